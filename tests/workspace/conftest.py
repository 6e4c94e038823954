"""Prints the phase timings that slow workspace tests record (see test_devcontainer.py).

A test appends `("phase <name>", seconds)` to its `user_properties` (as `record_property`
does, so they land in the junit XML too); they are shown here as one table per test,
whatever its outcome, without `-s`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlmax.tables import render
from tests.workspace.taskrun import COLLECT_ONLY, collected_ids, run_to_completion
from tests.workspace.vscode import UNIT_TASK, TaskCommand, copy_workspace, task_command

PHASE_PREFIX = "phase "


@pytest.fixture(scope="session")
def unit_task_collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A fresh workspace copy and the test ids the unit-tests task's whole command selects.

    Collected once per session: the task's own test and the Test Explorer's discovery test
    (same tree with --smlocal) both compare against it.
    """
    workspace = copy_workspace(tmp_path_factory.mktemp("unit-task") / "workspace")
    command = task_command(UNIT_TASK, workspace)
    collect = TaskCommand([*command.argv, *COLLECT_ONLY], command.cwd, command.env)
    done = run_to_completion(collect, timeout=600)
    assert done.returncode == 0, f"task {UNIT_TASK!r} failed to collect:\n{done.stdout[-4000:]}"
    return workspace, collected_ids(done.stdout)


def _phase_tables(reports: list[Any]) -> dict[str, list[tuple[str, object]]]:
    """Per test that recorded phases: all its properties (the teardown report has them all)."""
    tables: dict[str, list[tuple[str, object]]] = {}
    for report in reports:
        properties = list(getattr(report, "user_properties", []))
        if getattr(report, "when", None) == "teardown" and any(
            n.startswith(PHASE_PREFIX) for n, _ in properties
        ):
            tables[report.nodeid] = properties
    return tables


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reports = [r for outcome in terminalreporter.stats.values() for r in outcome]
    for nodeid, properties in _phase_tables(reports).items():
        terminalreporter.section(f"phase timings: {nodeid}", sep="-")
        phases = [
            (n.removeprefix(PHASE_PREFIX), v) for n, v in properties if n.startswith(PHASE_PREFIX)
        ]
        total = sum(float(seconds) for _, seconds in phases)
        rows = [[name, f"{float(seconds):.1f} s"] for name, seconds in [*phases, ("total", total)]]
        for line in render(["phase", "duration"], rows, right=(1,)).splitlines():
            terminalreporter.write_line(line)
        # What the test noted besides timings (e.g. the inner suite's summary line).
        for name, value in properties:
            if not name.startswith(PHASE_PREFIX):
                terminalreporter.write_line(f"{name}: {value}")

"""Fixtures of the workspace tests (the phase timings table: tests/support/phase_timings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.taskrun import COLLECT_ONLY, collected_ids, run_to_completion
from tests.support.vscode import UNIT_TASK, TaskCommand, copy_workspace, task_command


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

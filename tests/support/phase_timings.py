"""Prints the phase timings that slow tests record (see tests/workspace/test_devcontainer.py).

A test appends `("phase <name>", seconds)` to its `user_properties` (as `record_property`
does, so they land in the junit XML too); they are shown here as one table per test,
whatever its outcome, without `-s`. Registered by tests/conftest.py: under pytest-xdist
only the top conftest reaches the controller, which prints the summary.
"""

from __future__ import annotations

from typing import Any

from mlmax.common.tables import render

PHASE_PREFIX = "phase "


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

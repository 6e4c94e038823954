"""Prints the phase timings that slow workspace tests record (see test_devcontainer.py).

A test appends `("phase <name>", seconds)` to its `user_properties` (as `record_property`
does, so they land in the junit XML too); they are shown here as one table per test,
whatever its outcome, without `-s`.
"""

from __future__ import annotations

from typing import Any

PHASE_PREFIX = "phase "


def _phase_tables(reports: list[Any]) -> dict[str, list[tuple[str, object]]]:
    tables: dict[str, list[tuple[str, object]]] = {}
    for report in reports:
        phases = [
            (name.removeprefix(PHASE_PREFIX), value)
            for name, value in getattr(report, "user_properties", [])
            if name.startswith(PHASE_PREFIX)
        ]
        # The teardown report carries everything recorded up to the end.
        if phases and report.when == "teardown":
            tables[report.nodeid] = phases
    return tables


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reports = [r for outcome in terminalreporter.stats.values() for r in outcome]
    for nodeid, phases in _phase_tables(reports).items():
        terminalreporter.section(f"phase timings: {nodeid}", sep="-")
        width = max(len(name) for name, _ in phases)
        for name, seconds in phases:
            terminalreporter.write_line(f"{name.ljust(width)}  {float(seconds):7.1f} s")
        total = sum(float(seconds) for _, seconds in phases)
        terminalreporter.write_line(f"{'total'.ljust(width)}  {total:7.1f} s")

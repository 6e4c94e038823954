"""Container tests on by default where the project says so, and a count of those skipped.

A project whose CI should always run its container tests says so once, in its pyproject.toml
(`[tool.mlmax] smlocal = true`) or its pytest ini (`smlocal = true`), rather than in every
command line; `-o smlocal=false` turns it off for one run. Without it, a run that forgets
`--smlocal` passes with every container test skipped: the terminal summary then counts them
and names the option, so a green CI that ran none of them is visible.

Loaded by mlmax.pytest_plugin.plugin (`pytest_plugins`).
"""

from __future__ import annotations

from typing import Any

import pytest

INI = "smlocal"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI,
        type="bool",
        default=None,
        help="run tests marked smlocal without --smlocal (also [tool.mlmax] smlocal = true)",
    )


def project_wants_containers(config: pytest.Config) -> bool:
    """The pytest ini's `smlocal`, else the project's `[tool.mlmax] smlocal`."""
    from_ini = config.getini(INI)
    if from_ini is not None:
        return bool(from_ini)
    from mlmax.project import current_project

    project = current_project(config.rootpath)
    return bool(project and project.smlocal)


@pytest.hookimpl(tryfirst=True)  # before any other configure hook reads --smlocal
def pytest_configure(config: pytest.Config) -> None:
    from mlmax.common import MlmaxError

    if config.getoption("--smlocal", default=False):
        return
    try:
        wanted = project_wants_containers(config)
    except MlmaxError:  # a bad [tool.mlmax]: the main plugin stops the run with its fix
        wanted = False
    if wanted:
        config.option.smlocal = True
    else:
        config.pluginmanager.register(SkippedContainerTests(), "mlmax-skipped-container-tests")


class SkippedContainerTests:
    """Counts the tests skipped for want of --smlocal; names the option in the summary."""

    def __init__(self) -> None:
        self.count = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # xdist's controller gets every worker's reports here too.
        from mlmax.pytest_plugin.plugin import SKIP_REASON

        longrepr = report.longrepr
        if report.when == "setup" and report.skipped and isinstance(longrepr, tuple):
            self.count += SKIP_REASON in str(longrepr[2])

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.count:
            tests = "test was" if self.count == 1 else "tests were"
            terminalreporter.write_line(
                f"mlmax: {self.count} container {tests} skipped: run pytest with --smlocal, "
                "or set smlocal = true in [tool.mlmax] of pyproject.toml or in the pytest ini"
            )

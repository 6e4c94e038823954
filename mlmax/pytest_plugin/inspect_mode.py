"""pytest's inspect mode: `pytest --smlocal --inspectlocal -k <test>` debugs a container test.

Wired in by `mlmax.pytest_plugin.plugin` (options, configure, the `sm_localmode` fixture); the work
is done by `mlmax.localmode.run.debug_run`. One test is inspected per run: the first selected
container test. Every job it runs goes under the debugger (or only `--inspect-job NAME`);
other selected container tests run normally, and the run says so at collection.

Ready lines go through the terminal reporter with capture suspended, flushed, so a tool
reading pytest's output through a pipe or a pty sees them while the test waits.

Without --inspectlocal, a pytest run under a debugger (VS Code's "Debug Test") registers
`mlmax.pytest_plugin.debug_test.DebugTestPlugin` instead: each job opens as a child debug session.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from mlmax.common import UsageError

if TYPE_CHECKING:
    from mlmax.pytest_plugin.debug_test import DebugTestPlugin

from mlmax.localmode.debug import (
    DEFAULT_INSPECT_PORT,
    DEFAULT_WAIT_TIMEOUT,
    INSPECT_MODES,
    ReadyInfo,
    ReplInfo,
    resolve_host_port,
)

MARKER = "smlocal"
_plugin_key = pytest.StashKey["InspectPlugin | DebugTestPlugin"]()


def add_options(group: Any) -> None:
    group.addoption(
        "--inspectlocal",
        nargs="?",
        const="debugpy",
        default=None,
        choices=INSPECT_MODES,
        help="debug the selected container test's jobs: under debugpy (default), or "
        "--inspectlocal=repl for python -i with docker attach/exec commands",
    )
    group.addoption(
        "--inspect-port",
        type=int,
        default=DEFAULT_INSPECT_PORT,
        metavar="PORT",
        help=f"host port on 127.0.0.1 for debugpy (default {DEFAULT_INSPECT_PORT}; 0 = free one)",
    )
    group.addoption(
        "--inspect-timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for a debugger to attach (default {DEFAULT_WAIT_TIMEOUT:g})",
    )
    group.addoption(
        "--inspect-job",
        default=None,
        metavar="JOB",
        help="debug only this job of the inspected test (e.g. train), run the others normally",
    )


def _uses_xdist(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput"):
        return True
    workers = config.getoption("numprocesses", default=None)
    return bool(workers) and workers != "0"


def configure(config: pytest.Config) -> None:
    """Check the inspect options and register the plugin; an MlmaxError names the fix
    (mlmax.pytest_plugin.plugin makes it pytest's usage error)."""
    mode = config.getoption("--inspectlocal", default=None)
    if not mode:
        _configure_debug_test(config)
        return
    if not config.getoption("--smlocal"):
        raise UsageError(
            "--inspectlocal needs --smlocal: run `pytest --smlocal --inspectlocal -k <test>`"
        )
    if _uses_xdist(config):
        raise UsageError(
            "--inspectlocal debugs one job at a time and cannot run under pytest-xdist; "
            "drop -n/--numprocesses and select one test with -k"
        )
    job = _checked_job(config)
    port = config.getoption("--inspect-port")
    if mode == "debugpy":
        port = resolve_host_port(port)  # an InspectError names the option to change
    plugin = InspectPlugin(
        config, mode=mode, port=port, wait_timeout=config.getoption("--inspect-timeout"), job=job
    )
    config.stash[_plugin_key] = plugin
    config.pluginmanager.register(plugin, "mlmax-inspect")


def _configure_debug_test(config: pytest.Config) -> None:
    """Under a debugger (VS Code's Debug Test): each job becomes a child debug session."""
    from mlmax.pytest_plugin.debug_test import DebugTestPlugin, under_debugger

    if _uses_xdist(config) or not under_debugger():
        return
    plugin = DebugTestPlugin(
        config,
        wait_timeout=config.getoption("--inspect-timeout"),
        job=_checked_job(config),
        write=functools.partial(write_live, config),
    )
    config.stash[_plugin_key] = plugin
    config.pluginmanager.register(plugin, "mlmax-debug-test")


def _checked_job(config: pytest.Config) -> str | None:
    job = config.getoption("--inspect-job")
    if job and job != "endpoint":  # "endpoint": the handler of an sm_endpoint deployment
        from mlmax.project import get_job

        try:
            get_job(job)
        except KeyError as error:
            raise UsageError(f"--inspect-job: {error.args[0]}") from None
    return job


def plugin_of(config: pytest.Config) -> InspectPlugin | DebugTestPlugin | None:
    return config.stash.get(_plugin_key, None)


def write_live(config: pytest.Config, lines: list[str]) -> None:
    """Show `lines` now, even while the test captures output (pipe or pty)."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    capture = config.pluginmanager.getplugin("capturemanager")
    if reporter is None:
        for line in lines:
            print(line, file=sys.__stdout__, flush=True)
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for line in lines:
            reporter.write_line(line)
        reporter.flush()


class InspectPlugin:
    """Chooses the inspected test and runs its jobs through `debug_job`."""

    def __init__(
        self, config: pytest.Config, *, mode: str, port: int, wait_timeout: float, job: str | None
    ) -> None:
        self.config = config
        self.mode = mode
        self.port = port
        self.wait_timeout = wait_timeout
        self.job = job
        self.target: str | None = None
        self.others = 0
        self.active = False

    # -- choosing the test ---------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)  # after -k / -m deselection
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        containers = [item for item in items if MARKER in item.keywords]
        if not containers:
            pytest.exit(
                "--inspectlocal found no container test (marked smlocal) among the selected "
                "tests; select one with -k <test>",
                returncode=pytest.ExitCode.USAGE_ERROR,
            )
        self.target = containers[0].nodeid
        self.others = len(containers) - 1

    def pytest_report_collectionfinish(self) -> list[str]:
        what = f"job {self.job}" if self.job else "its jobs"
        lines = [f"mlmax: --inspectlocal={self.mode}: inspecting {self.target} ({what})"]
        if self.others:
            lines.append(
                f"mlmax: --inspectlocal inspects one test at a time; the other {self.others} "
                "selected container test(s) run without the debugger (select one with -k)"
            )
        return lines

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.active = item.nodeid == self.target
        try:
            return (yield)
        finally:
            self.active = False

    # -- running jobs ----------------------------------------------------------------------------
    def run_job(self, run: Any, **options: Any) -> Any:
        """`LocalMode.job_runner`: debug the inspected test's jobs, run the others."""
        from mlmax.localmode.run import run_job

        if not self.active or (self.job and run.job.name != self.job):
            return run_job(run, **options)
        from mlmax.localmode.run import debug_job

        options.pop("debug", None)
        options["timeout"] = None  # a person at a breakpoint takes as long as they take
        return debug_job(
            run,
            port=self.port,
            wait_timeout=self.wait_timeout,
            on_ready=self.announce,
            mode=self.mode,  # type: ignore[arg-type]
            **options,
        )

    def announce(self, info: ReadyInfo | ReplInfo) -> None:
        """Show the ready line (or the REPL commands) now, even while the test captures."""
        write_live(self.config, [info.line] if isinstance(info, ReadyInfo) else info.lines)

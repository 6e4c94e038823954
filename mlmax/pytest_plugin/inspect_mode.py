"""pytest's inspect mode: `pytest --smlocal --inspectlocal -k <test>` debugs a container test.

`InspectPlugin` is registered as the debugger (`mlmax.pytest_plugin.debugger.DEBUGGER`) by
`mlmax.pytest_plugin.plugin` when `--inspectlocal` is on. One test is inspected per run: the
first selected container test. Every job it runs goes under the debugger (or only
`--inspect-job NAME`), through the LocalMode's debug policy (`job_debugging`), and so does
every step of a pipeline it runs with `sm_pipeline_session` (or only `--inspect-job STEP`:
`step_debugging`); other selected
container tests run normally, and the run says so at collection.

Ready lines go through the terminal reporter with capture suspended, flushed, so a tool
reading pytest's output through a pipe or a pty sees them while the test waits.

Without --inspectlocal, a pytest run under a debugger (VS Code's "Debug Test") registers
`mlmax.pytest_plugin.debug_test.DebugTestPlugin` instead: each job opens as a child debug session.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlmax.localmode.debug import ReadyInfo, ReplInfo
from mlmax.pytest_plugin.debugger import write_live
from mlmax.pytest_plugin.session import MARKER

if TYPE_CHECKING:
    from mlmax.localmode.debug import InspectMode
    from mlmax.localmode.endpoint import EndpointDebug
    from mlmax.localmode.run import JobDebugging, PipelineStep
    from mlmax.project import JobRun


class InspectPlugin:
    """Chooses the inspected test and puts its jobs, endpoints and SDK objects under debugpy
    (or, for jobs, `python -i`)."""

    def __init__(
        self,
        config: pytest.Config,
        *,
        mode: InspectMode,
        port: int,
        wait_timeout: float,
        job: str | None,
    ) -> None:
        self.config = config
        self.mode = mode
        self.port = port
        self.wait_timeout = wait_timeout
        self.job = job
        self.target: str | None = None
        self.others = 0
        self.active = False
        self.named_found = False  # whether --inspect-job named something the test ran

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
            if self.active and self.job and not self.named_found:
                write_live(self.config, [self._nothing_named()])
            self.active = False

    def _nothing_named(self) -> str:
        """--inspect-job can name a pipeline step, which is known only once the test ran, so a
        name that matched nothing is told afterwards."""
        return (
            f"mlmax: --inspect-job {self.job} named no job, endpoint or pipeline step that "
            f"{self.target} ran, so nothing waited for a debugger; check the name"
        )

    # -- what goes under the debugger (mlmax.pytest_plugin.debugger.Debugger) -------------------
    def job_debugging(self, run: JobRun) -> JobDebugging | None:
        """The inspected test's jobs (or only `--inspect-job`); the others run as usual."""
        from mlmax.localmode.run import JobDebugging

        if not self.active or (self.job and run.job.name != self.job):
            return None
        self.named_found = True
        return JobDebugging(
            port=self.port, wait_timeout=self.wait_timeout, on_ready=self.announce, mode=self.mode
        )

    def endpoint_debugging(self, source_dir: Path) -> EndpointDebug | None:
        """Under debugpy, the inspected test's endpoint handler waits for a debugger,
        announced by the ready line (and the folder its code root maps to)."""
        from mlmax.localmode.endpoint import ENDPOINT_JOB, SERVING_CODE_ROOT, EndpointDebug

        if not self.active or self.mode != "debugpy":
            return None
        if self.job and self.job != ENDPOINT_JOB:
            return None
        self.named_found = True

        def announce(port: int) -> None:
            self.announce(ReadyInfo(ENDPOINT_JOB, port, SERVING_CODE_ROOT, container=""))
            write_live(self.config, [f"mlmax: map {SERVING_CODE_ROOT} to {source_dir}"])

        return EndpointDebug(self.port, wait_for_client=True, on_ready=announce)

    def sdk_objects_debugging(self, job: str) -> AbstractContextManager[None] | None:
        """Under debugpy, the inspected test's own processors and trainers."""
        if not self.active or self.mode != "debugpy":
            return None
        if self.job:  # --inspect-job names a declared job; the test's own objects are not one
            return None
        from mlmax.localmode.debug import sdk_objects_under_debugger

        return sdk_objects_under_debugger(
            job=job, port=self.port, wait_timeout=self.wait_timeout, on_ready=self.announce
        )

    def step_debugging(self, step: PipelineStep) -> JobDebugging | None:
        """Under debugpy, the inspected test's pipeline steps (or only `--inspect-job STEP`)."""
        from mlmax.localmode.run import JobDebugging

        if not self.active or self.mode != "debugpy" or (self.job and step.name != self.job):
            return None
        self.named_found = True
        return JobDebugging(port=self.port, wait_timeout=self.wait_timeout, on_ready=self.announce)

    def announce(self, info: ReadyInfo | ReplInfo) -> None:
        """Show the ready line (or the REPL commands) now, even while the test captures."""
        write_live(self.config, [info.line] if isinstance(info, ReadyInfo) else info.lines)

"""VS Code's "Debug Test" on a container test: each job opens as a child debug session.

When pytest itself runs under debugpy with a client attached (the Test Explorer's "Debug
Test", or any launch configuration running pytest), every job a container test runs (or only
`--inspect-job NAME`), and every step of a pipeline it runs with `sm_pipeline_session` (or only
`--inspect-job STEP`), runs under debugpy in its container, reached through a forward on the
host's 127.0.0.1 (`mlmax.localmode.debug.relay`; a port the OS picks, never a fixed one).
Once debugpy listens, pytest sends the custom DAP event `debugpyAttach` through its OWN
debugger connection, with an attach configuration for that port. The debug adapter passes
unknown debuggee events on to the client, and the Python Debugger extension starts such an
event's configuration as a child session of the test's session: breakpoints in the
workspace's job files bind in the container. An `sm_endpoint` serving container (job
`endpoint`) opens the same way, its handler's code root mapped to `mlmax_census/jobs`.

Why not debugpy's own subprocess path: the job is not a subprocess of pytest; the adapter
listens on the host's loopback (a container cannot reach it) and would signal the job's
container pid on the host (see the project's notes on Debug Test child sessions).

If no client opens the child session within `GRACE_SECONDS`, the run says so and keeps
waiting, up to `--inspect-timeout`, for someone to attach by the ready line. Outside a
debugger this plugin is not registered and nothing changes; under one, `mlmax.pytest_plugin.plugin`
registers it as the debugger (`mlmax.pytest_plugin.debugger.DEBUGGER`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlmax.localmode.endpoint import EndpointDebug
    from mlmax.localmode.run import JobDebugging, PipelineStep
    from mlmax.project import JobRun

GRACE_SECONDS = 10.0  # VS Code opens a child session within about a second


def under_debugger() -> bool:
    """Whether this process runs under debugpy with a client attached."""
    debugpy = sys.modules.get("debugpy")
    if debugpy is None:
        return False
    try:
        return bool(debugpy.is_client_connected())
    except Exception:  # a debugpy without a server set up: not debugging
        return False


def attach_configuration(job: Any, port: int) -> dict[str, Any]:
    """The child session's launch.json-style attach configuration for `job` on `port`.

    The workspace's own jobs map both container code roots to `mlmax_census/jobs` (as the attach
    configurations in launch.json do); a job a project declares elsewhere maps its code root
    to its own source folder.
    """
    from mlmax.localmode.run import job_path_mappings, path_mappings
    from mlmax.project import JOBS_DIR

    own = Path(job.source_dir) == JOBS_DIR
    mappings = path_mappings() if own else job_path_mappings(job)
    return _attach(job.name, port, mappings)


def step_attach_configuration(step: PipelineStep, port: int) -> dict[str, Any]:
    """The child session's attach configuration for a pipeline step: the container's code
    root mapped to the project's folder the step's code came from."""
    from mlmax.localmode.debug import code_root

    mappings = []
    if step.code_dir is not None:
        mappings.append({"localRoot": str(step.code_dir), "remoteRoot": code_root(step.kind)})
    return _attach(step.name, port, mappings)


def endpoint_attach_configuration(port: int, source_dir: Path) -> dict[str, Any]:
    """The child session's attach configuration for an `sm_endpoint` serving container: its
    code root (where the SDK mounts the handler) mapped to the handler's source folder."""
    from mlmax.localmode.endpoint import ENDPOINT_JOB, SERVING_CODE_ROOT

    mappings = [{"localRoot": str(source_dir), "remoteRoot": SERVING_CODE_ROOT}]
    return _attach(ENDPOINT_JOB, port, mappings)


def _attach(job_name: str, port: int, mappings: list[dict[str, str]]) -> dict[str, Any]:
    from mlmax.localmode.engine import LOOPBACK

    return {
        "type": "debugpy",
        "request": "attach",
        "name": f"mlmax job {job_name} (container)",
        "connect": {"host": LOOPBACK, "port": port},
        "pathMappings": mappings,
        # The child would otherwise take the user's setting; the job's code is "user code"
        # only through pathMappings, and library frames help post-mortem.
        "justMyCode": False,
    }


def request_child_session(configuration: dict[str, Any]) -> bool:
    """Ask the client, through this process's debugger connection, to attach with it."""
    pydevd = sys.modules.get("pydevd")
    if pydevd is None:
        return False
    event = {"type": "event", "event": "debugpyAttach", "body": configuration}
    return bool(pydevd.send_json_message(event))


class DebugTestPlugin:
    """Runs container tests' jobs under debugpy and opens each as a child debug session."""

    def __init__(
        self,
        config: pytest.Config,
        *,
        wait_timeout: float,
        job: str | None,
        write: Callable[[list[str]], None],
    ) -> None:
        self.config = config
        self.write = write  # shows lines now, even while the test captures output
        self.wait_timeout = wait_timeout
        self.job = job
        self.requested: list[dict[str, Any]] = []

    def pytest_report_header(self) -> str:
        which = f"job {self.job}" if self.job else "each job"
        return (
            f"mlmax: running under a debugger: {which} of a container test opens as a child "
            "debug session"
        )

    # -- what goes under the debugger (mlmax.pytest_plugin.debugger.Debugger) -------------------
    def job_debugging(self, run: JobRun) -> JobDebugging | None:
        """Every job (or only `--inspect-job`), on a port the OS picks, as a child session."""
        from mlmax.localmode.run import JobDebugging

        if self.job and run.job.name != self.job:
            return None
        return JobDebugging(
            port=0,
            wait_timeout=self.wait_timeout,
            on_ready=lambda info: self.open_child_session(info, run.job),
            grace=GRACE_SECONDS,
            on_grace=self.fall_back,
        )

    def endpoint_debugging(self, source_dir: Path) -> EndpointDebug | None:
        """The `sm_endpoint` handler: the same loopback forward as --inspectlocal, on a port
        the OS picks, opened as a child session mapped to the handler's `source_dir`."""
        from mlmax.localmode.endpoint import ENDPOINT_JOB, EndpointDebug

        if self.job and self.job != ENDPOINT_JOB:
            return None
        return EndpointDebug(
            0,
            wait_for_client=True,
            on_ready=lambda port: self.open_endpoint_session(port, source_dir),
        )

    def sdk_objects_debugging(self, job: str) -> AbstractContextManager[None] | None:
        """A test's own SDK objects (`sm_session`) run as usual under Debug Test."""
        return None

    def step_debugging(self, step: PipelineStep) -> JobDebugging | None:
        """Every step of an `sm_pipeline_session` pipeline (or only `--inspect-job STEP`), on
        a port the OS picks, as a child session."""
        from mlmax.localmode.run import JobDebugging

        if self.job and step.name != self.job:
            return None
        return JobDebugging(
            port=0,
            wait_timeout=self.wait_timeout,
            on_ready=lambda info: self._ask(
                step_attach_configuration(step, info.port), info.line, step.name
            ),
            grace=GRACE_SECONDS,
            on_grace=self.fall_back,
        )

    def open_child_session(self, info: Any, job: Any) -> None:
        self._ask(attach_configuration(job, info.port), info.line, info.job)

    def open_endpoint_session(self, port: int, source_dir: Path) -> None:
        """`EndpointDebug.on_ready` for `sm_endpoint`: the handler opens as a child session."""
        from mlmax.localmode.debug import ready_line
        from mlmax.localmode.endpoint import ENDPOINT_JOB, SERVING_CODE_ROOT

        line = ready_line(port, ENDPOINT_JOB, SERVING_CODE_ROOT)
        self._ask(endpoint_attach_configuration(port, source_dir), line, ENDPOINT_JOB)

    def _ask(self, configuration: dict[str, Any], ready: str, job_name: str) -> None:
        sent = request_child_session(configuration)
        self.requested.append(configuration)
        how = "asked the debugger for a child session" if sent else "no debugger to ask"
        self.write([ready, f"mlmax: Debug Test: {how} for job {job_name}"])

    def fall_back(self, info: Any) -> None:
        self.write(
            [
                f"mlmax: Debug Test: no child session opened for job {info.job} within "
                f"{GRACE_SECONDS:g} s (does the client handle debugpyAttach?); attach to "
                f"{info.host}:{info.port} yourself within --inspect-timeout "
                f"({self.wait_timeout:g} s) or the test fails"
            ]
        )

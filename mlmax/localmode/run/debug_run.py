"""Run one job under a debugger in its Local Mode container (inspect mode, `mlmax debug`).

`JobDebugging` says how one job is debugged (port, wait, mode, who hears it is ready); a
LocalMode whose job runner is `debugging_runner(policy)` asks the `DebugPolicy` about each job
it runs and debugs those it answers for (the pytest plugin's inspect mode and Debug Test).
`debug_job` opens the host-side forward (`debug.forward`), makes sure the image has debugpy
(`image.debug_variant`), starts a `ReadyWatch` beside the ordinary runner (`container_run.run_job`
with the debug command of `debug_command`) and turns what the watch saw into the right
error: no debugger attached in time, or the container lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmax.localmode.debug import (
    DEFAULT_INSPECT_PORT,
    DEFAULT_WAIT_TIMEOUT,
    INSPECT_FLAGS,
    INSPECT_MODES,
    DebugFlags,
    DebuggerNotAttachedError,
    DebugOptions,
    InspectError,
    InspectMode,
    ReadyInfo,
    ReadyWatch,
    open_forward,
)
from mlmax.localmode.errors import JobFailedError
from mlmax.localmode.image import ensure_debugpy_image
from mlmax.localmode.run.container_run import JobResult, run_job
from mlmax.localmode.run.local_mode import JobRunner, LocalMode
from mlmax.project import JOBS_DIR, PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT

if TYPE_CHECKING:
    from mlmax.localmode.sdk import OfflineSession
    from mlmax.project import JobDefinition, JobRun


def path_mappings(jobs_dir: Path = JOBS_DIR) -> list[dict[str, str]]:
    """The pathMappings of VS Code's attach configuration: both container code roots."""
    return [
        {"localRoot": str(jobs_dir), "remoteRoot": PROCESSING_CODE_ROOT},
        {"localRoot": str(jobs_dir), "remoteRoot": TRAINING_CODE_ROOT},
    ]


def job_path_mappings(job: JobDefinition) -> list[dict[str, str]]:
    """The pathMapping of one declared job: its container code root to its source folder."""
    return [{"localRoot": str(job.source_dir), "remoteRoot": job.code_root}]


@dataclass(frozen=True)
class JobDebugging:
    """How one job runs under the debugger: what `debug_job` takes besides the run itself."""

    port: int = DEFAULT_INSPECT_PORT  # host port on 127.0.0.1; 0 = one the OS picks
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    on_ready: Callable[[Any], None] | None = None
    mode: InspectMode = "debugpy"
    grace: float | None = None
    on_grace: Callable[[ReadyInfo], None] | None = None


# Which jobs of a LocalMode run under the debugger, and how: None runs the job as usual.
DebugPolicy = Callable[["JobRun"], JobDebugging | None]


def debugging_runner(policy: DebugPolicy) -> JobRunner:
    """A LocalMode job runner (`JobRunner`): the jobs `policy` answers for run under the
    debugger, the others as usual."""

    def run_or_debug(run: JobRun, **options: Any) -> JobResult:
        debugging = policy(run)
        if debugging is None:
            return run_job(run, **options)
        options.pop("debug", None)  # the debugger's own options replace them
        options.pop("timeout", None)  # a person at a breakpoint takes as long as they take
        return debug_job(
            run,
            port=debugging.port,
            wait_timeout=debugging.wait_timeout,
            on_ready=debugging.on_ready,
            mode=debugging.mode,
            grace=debugging.grace,
            on_grace=debugging.on_grace,
            **options,
        )

    return run_or_debug


def debug_job(
    run: JobRun,
    *,
    image: str,
    session: OfflineSession | None = None,
    port: int = DEFAULT_INSPECT_PORT,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    on_ready: Callable[[Any], None] | None = None,
    mode: InspectMode = "debugpy",
    timeout: float | None = None,
    environment: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    grace: float | None = None,
    on_grace: Callable[[ReadyInfo], None] | None = None,
    code_dir: Path | None = None,  # None: the job's declared source folder
    flags: DebugFlags = INSPECT_FLAGS,
    memory: str | int | None = None,
) -> JobResult:
    """Run `run` in its Local Mode container under debugpy (or `python3 -i` for "repl").

    - `port`: host port on 127.0.0.1 (0 = a free one) where a PortForward relays to debugpy
      on the container's loopback; InspectPortBusyError if taken.
    - `image`: for debugpy, an image without debugpy is replaced by a derived image with
      debugpy installed offline (`image.ensure_debugpy_image`).
    - `on_ready(ReadyInfo)` once debugpy listens (`info.line` is the ready line); for "repl"
      `on_ready(ReplInfo)` once the container runs.
    - No debugger within `wait_timeout` s: DebuggerNotAttachedError, container removed.
    - `on_grace(ReadyInfo)` once, if no debugger connected `grace` s after readiness.
    - `session`: an OfflineSession to reuse; without one a LocalMode (embedded S3, private
      temp dirs) is started and stopped around the run.
    - `timeout`: of the whole job (None: as long as the person debugging needs).
    - `memory`: the container's memory limit, as `run_job`'s.
    Returns the runner's JobResult; raises JobFailedError as `run_job` does.
    """
    if mode not in INSPECT_MODES:
        raise InspectError(f"unknown inspect mode {mode!r}; choose one of {INSPECT_MODES}")
    alias = PROCESSING_CODE_ROOT if run.job.kind == "training" else None
    options = DebugOptions(mode=mode, code_alias=alias)
    with contextlib.ExitStack() as stack:
        forward = None
        if mode == "debugpy":
            forward = stack.enter_context(open_forward(port, flags))
            image = ensure_debugpy_image(image, progress=progress)
        if session is None:
            local_mode = stack.enter_context(LocalMode(image=image, progress=progress))
            session = local_mode.session
            assert session is not None
        watch = ReadyWatch(
            job=run.job.name,
            kind=run.job.kind,
            options=options,
            wait_timeout=wait_timeout,
            on_ready=on_ready,
            forward=forward,
            grace=grace,
            on_grace=on_grace,
        )
        watch.start()
        try:
            return run_job(
                run,
                image=image,
                session=session,
                timeout=timeout,
                debug=options,
                environment=environment,
                progress=progress,
                code_dir=code_dir,
                memory=memory,
            )
        except JobFailedError as error:
            if watch.error is not None:
                raise InspectError(
                    f"inspect mode lost track of job {run.job.name!r}'s container "
                    f"({watch.error}); the job was stopped, run it again"
                ) from error
            if watch.gave_up:
                port = forward.port if forward is not None else 0
                raise DebuggerNotAttachedError(run.job.name, port, wait_timeout, flags) from None
            raise
        finally:
            watch.stop()
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack never swallows

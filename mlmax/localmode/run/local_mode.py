"""What a series of Local Mode runs shares: embedded S3 and the offline session.

`with LocalMode(image=...) as lm: lm.run(job, inputs=..., outputs=...)` starts the embedded S3
server (unless real S3 is asked for) and the offline session, runs each job through its job
runner (`container_run.run_job`; a `debug_run.debugging_runner` debugs some of them), and on
exit stops whatever still runs and removes the session's containers and directories. What
killed sessions left is swept once per session, before its first run, by the session's
entry point (the command, the pytest plugin), not here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from mlmax.common import Progress
from mlmax.localmode.debug import DebugOptions
from mlmax.localmode.engine import (
    current_session,
    kill_processes,
    remove_containers,
    session_containers,
)
from mlmax.localmode.run.container_run import JobResult, run_job
from mlmax.localmode.s3 import S3Server
from mlmax.localmode.sdk import UNWIND_SECONDS, OfflineSession, preload_sdk, real_s3_requested
from mlmax.project import JobDefinition, JobRun, get_job


class JobRunner(Protocol):
    """What runs each job of a LocalMode: `container_run.run_job`'s signature."""

    def __call__(
        self,
        run: JobRun,
        *,
        image: str,
        session: OfflineSession,
        timeout: float | None = None,
        debug: DebugOptions | None = None,
        environment: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        code_dir: Path | None = None,
        memory: str | int | None = None,
    ) -> JobResult: ...


class LocalMode:
    """Embedded S3 + offline session: `with LocalMode(image=...) as lm: lm.run(...)`.

    Real S3 is used only when asked for (`real_s3=True` or MLMAX_REAL_S3=1). `job_runner`
    runs each job (default `run_job`; the pytest plugin's inspect mode and Debug Test pass a
    `debug_run.debugging_runner`).
    """

    def __init__(
        self,
        *,
        image: str,
        real_s3: bool | None = None,
        s3_endpoint_url: str | None = None,
        default_timeout: float | None = None,
        progress: Progress | None = None,
        temp_parent: Path | None = None,
        project_root: Path | None = None,
        image_for: Callable[[JobDefinition], str] | None = None,
        memory: str | int | None = None,
        job_runner: JobRunner = run_job,
    ) -> None:
        self.image = image
        # Every job's memory limit ("2g"); None: each job's instance type's memory, if any.
        self.memory = memory
        # Where the project's pyproject.toml (its declared jobs) is looked up.
        self.project_root = project_root
        # A job's own image (declared image or requirements); default: `image`.
        self.image_for = image_for or (lambda _job: image)
        self.real_s3 = real_s3_requested() if real_s3 is None else real_s3
        # An S3 server someone else owns (a pytest fixture); otherwise LocalMode starts one.
        self._s3_endpoint_url = s3_endpoint_url
        self.default_timeout = default_timeout
        self.progress = progress
        self._temp_parent = temp_parent
        self._stack = contextlib.ExitStack()
        self.session: OfflineSession | None = None
        self.s3: S3Server | None = None
        self._job_runner = job_runner
        # Runs in progress (parallel steps run in other threads): the session's directory is
        # removed only once they have returned, or a thread still unwinding after Ctrl-C or
        # SIGTERM would create its directories again under the removed root.
        self._runs_in_progress = 0
        self._runs_done = threading.Condition()

    def __enter__(self) -> LocalMode:
        with self._stack as stack:
            stack.callback(self._remove_session_containers)
            endpoint = self._s3_endpoint_url
            if not self.real_s3 and endpoint is None:
                # Its own process starts on another core while this one imports the SDK.
                self.s3 = S3Server().start(wait=False)
                stack.callback(self.s3.stop)
                endpoint = self.s3.endpoint_url
            preload_sdk()
            self.session = stack.enter_context(
                OfflineSession(
                    s3_endpoint_url=endpoint, real_s3=self.real_s3, temp_parent=self._temp_parent
                )
            )
            # First on exit: jobs still running in other threads (a pipeline's parallel
            # steps after Ctrl-C) are stopped before their directories go.
            stack.callback(self._wait_for_runs_in_progress)
            stack.callback(self._stop_running_jobs, self.session.root)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def active_session(self) -> OfflineSession:
        """The offline session; RuntimeError outside `with LocalMode(...)`."""
        if self.session is None:
            raise RuntimeError("use LocalMode as a context manager: with LocalMode(...) as lm")
        return self.session

    @classmethod
    def _stop_running_jobs(cls, session_root: Path) -> None:
        kill_processes(session_root)
        cls._remove_session_containers()

    @staticmethod
    def _remove_session_containers() -> None:
        session_id = current_session().session_id
        try:
            found = session_containers(session_id)
        except Exception:  # no engine to ask (it went away, or never was): nothing ours runs
            return
        remove_containers(found)

    def run(
        self,
        job: str | JobDefinition,
        *,
        inputs: Mapping[str, Path | str] | None = None,
        outputs: Mapping[str, Path | str] | None = None,
        arguments: Sequence[str] = (),
        timeout: float | None = None,
        debug: DebugOptions | None = None,
        environment: Mapping[str, str] | None = None,
        code_dir: Path | None = None,
    ) -> JobResult:
        """Run a declared job (by name) with host directories for its channels; `code_dir`:
        its code from another folder than its declared source."""
        session = self.active_session
        definition = get_job(job, self.project_root) if isinstance(job, str) else job
        run = JobRun(
            job=definition,
            inputs={k: Path(v) for k, v in (inputs or {}).items()},
            outputs={k: Path(v) for k, v in (outputs or {}).items()},
            arguments=tuple(arguments),
        )
        with self._runs_done:
            self._runs_in_progress += 1
        try:
            return self._job_runner(
                run,
                image=self.image_for(definition),
                session=session,
                timeout=self.default_timeout if timeout is None else timeout,
                debug=debug,
                environment=environment,
                progress=self.progress,
                memory=self.memory,
                code_dir=code_dir,
            )
        finally:
            with self._runs_done:
                self._runs_in_progress -= 1
                self._runs_done.notify_all()

    def _wait_for_runs_in_progress(self) -> None:
        # Their containers are gone by now (_stop_running_jobs), so they return quickly.
        with self._runs_done:
            self._runs_done.wait_for(lambda: self._runs_in_progress == 0, UNWIND_SECONDS)

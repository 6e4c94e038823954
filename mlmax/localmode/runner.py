"""Run one job in its SageMaker Local Mode container, and always clean up after it.

`run_job` builds the SDK objects (`mlmax.sdk_jobs`), runs them in a worker thread and waits with a
deadline in the calling thread. That thread is where Ctrl-C lands: running the SDK call in
it would let the SDK's telemetry wrapper swallow the KeyboardInterrupt while compose and the
container keep running. On a timeout or an interrupt mlmax kills the run's compose process,
removes the run's containers by label, and raises. After every run, whatever the outcome,
the run's containers and private directory are removed; outputs reach the caller's
directories only when the job succeeded.

`LocalMode` bundles what a series of runs shares (embedded S3, offline session, reaper).
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import shutil
import tarfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from mlmax.catalog import JobDefinition, JobRun, get_job
from mlmax.localmode import compose, containers, labels, reaper, trainer_hook
from mlmax.localmode.container_user import (
    container_environment,
    container_user,
    with_container_user,
)
from mlmax.localmode.debug import DebugOptions
from mlmax.localmode.errors import JobFailedError, JobSetupError, JobTimeoutError
from mlmax.localmode.network import ensure_network
from mlmax.localmode.s3server import S3Server
from mlmax.localmode.session import (
    OfflineSession,
    preload_sdk,
    real_s3_requested,
    remove_tree_or_warn,
)
from mlmax.sdk_jobs import ProcessingStep, TrainingStep, processing_step, training_step

Progress = Callable[[str], None]
# Runs one JobRun; `run_job`'s signature. LocalMode.job_runner lets inspect mode take over.
JobRunner = Callable[..., "JobResult"]
MODEL_ARCHIVE = "model.tar.gz"
# How long a stopped run may take to unwind (compose killed, SDK copying) before we move on.
UNWIND_SECONDS = 30.0
_EXIT_CODE = re.compile(r"Process exited with code: (-?\d+)")


@dataclass(frozen=True)
class JobResult:
    """What a finished run produced."""

    job: str
    run_id: str
    exit_code: int
    duration: float
    logs: str
    outputs: dict[str, Path] = field(default_factory=dict)


class _Worker(threading.Thread):
    """Runs the SDK call; keeps whatever it raised for the waiting thread."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._target_call = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_call()
        except BaseException as error:  # handed to the waiting thread
            self.error = error


def _check_directories(run: JobRun) -> None:
    for name, path in run.inputs.items():
        if not Path(path).exists():
            raise JobSetupError(
                f"input {name!r} of job {run.job.name!r} does not exist: {path}; "
                "create it or point the input at an existing directory"
            )
    for name, path in run.outputs.items():
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise JobSetupError(
                f"output {name!r} of job {run.job.name!r} must be a new or empty directory, "
                f"but {path} is not; remove it or choose another directory"
            )


def _check_image(image: str) -> None:
    from docker.errors import ImageNotFound

    try:
        containers.docker_client().images.get(image)
    except ImageNotFound:
        raise JobSetupError(
            f"the job image {image!r} is not present in the local Docker engine (there is no "
            "registry to pull it from); build it with mlmax.localmode.image.ensure_job_image() "
            "or choose a local image"
        ) from None


def _has_files(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() for p in path.rglob("*"))


def _sdk_exit_code(error: BaseException | None) -> int | None:
    match = _EXIT_CODE.search(str(error)) if error else None
    return int(match.group(1)) if match else None


class _Run:
    """The state of one run: its id, private directory, step and outcome."""

    def __init__(
        self,
        run: JobRun,
        *,
        image: str,
        session: OfflineSession,
        debug: DebugOptions | None,
        environment: Mapping[str, str] | None,
        code_dir: Path | None,
    ) -> None:
        self.run = run
        self.job: JobDefinition = run.job
        self.code_dir = code_dir or self.job.source_dir
        self.image = image
        self.session = session
        self.debug = debug
        self.environment = {**container_environment(), **(environment or {})}
        self.run_id = labels.new_run_id(self.job.name)
        self.labels = labels.current_session().for_run(self.job.name, self.run_id)
        self.root = session.run_dir(self.run_id)
        self.staging = self.root / "outputs"
        # ModelTrainer names the compose project after its root's basename: make it unique.
        self.trainer_root = self.root / ("sm" + self.run_id.replace("-", ""))

    # -- building --------------------------------------------------------------------------
    def build(self) -> ProcessingStep | TrainingStep:
        inputs = {name: str(Path(path).resolve()) for name, path in self.run.inputs.items()}
        arguments = self.run.all_arguments
        if self.job.kind == "training":
            self.trainer_root.mkdir()
            # Training inputs are bind-mounted: the trainer needs no S3 and no credentials.
            return training_step(
                self.job,
                image=self.image,
                session=self._sdk_session(container_root=self.trainer_root),
                inputs=inputs,
                arguments=arguments,
                debug=self.debug,
                environment=self.environment,
                code_dir=self.code_dir,
                local_container_root=self.trainer_root,
            )
        outputs = {}
        for name in self.run.outputs:
            staged = self.staging / name
            staged.mkdir(parents=True)
            outputs[name] = staged.as_uri()
        container_config = with_container_user({"labels": dict(self.labels)})
        sdk_root = self.root / "sdk"
        sdk_root.mkdir()
        return processing_step(
            self.job,
            image=self.image,
            session=self._sdk_session(container_root=sdk_root, container_config=container_config),
            inputs=inputs,
            outputs=outputs,
            arguments=arguments,
            debug=self.debug,
            environment=self.environment,
            code_dir=self.code_dir,
            job_name=f"mlmax-{self.run_id}",
        )

    def _sdk_session(
        self, *, container_root: Path, container_config: dict[str, Any] | None = None
    ) -> Any:
        return self.session.local_session(
            container_root=container_root, container_config=container_config
        )

    # -- running ---------------------------------------------------------------------------
    def execute(self, timeout: float | None) -> tuple[BaseException | None, bool]:
        """Run the step; return (the SDK's error, whether the run was stopped by timeout)."""
        step = self.build()
        worker = _Worker(f"mlmax-{self.run_id}", step.execute)
        hook = (
            trainer_hook.extra_service_config(
                self.trainer_root,
                labels=self.labels,
                user=container_user(),
                volumes=self._alias_volumes(),
            )
            if self.job.kind == "training"
            else contextlib.nullcontext()
        )
        with hook:
            worker.start()
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                while worker.is_alive():
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        logs = self.logs()
                        self.stop(worker)
                        return JobTimeoutError(self.job.name, float(timeout or 0), logs), True
                    worker.join(0.5 if remaining is None else min(remaining, 0.5))
            except BaseException:  # KeyboardInterrupt, SystemExit: stop the job, re-raise
                self.stop(worker)
                raise
        return worker.error, False

    def _alias_volumes(self) -> list[str]:
        """A mount the caller owns where a debug run links its code alias.

        The debug command links the processing code path to the training code inside the
        container (`DebugOptions.code_alias`); that path's parent is root's in the image, so
        a container running as the calling user gets a writable directory mounted there.
        """
        alias = self.debug.code_alias if self.debug else None
        if not alias or not container_user():
            return []
        parent = self.root / "code-alias"
        parent.mkdir(exist_ok=True)
        return [f"{parent}:{posixpath.dirname(alias)}"]

    def stop(self, worker: _Worker) -> None:
        """Kill the run's compose process and remove its containers; let the SDK unwind."""
        compose.kill_processes(self.root)
        containers.remove_run(self.run_id)
        worker.join(UNWIND_SECONDS)
        # compose may have created a container between the two steps above.
        containers.remove_run(self.run_id)

    def logs(self) -> str:
        return containers.logs_of(containers.run_containers(self.run_id))

    # -- results ---------------------------------------------------------------------------
    def collect_outputs(self) -> dict[str, Path]:
        """Check the job wrote every output; copy them to the caller's directories."""
        if self.job.kind == "training":
            return self._collect_model()
        for name in self.run.outputs:
            if not _has_files(self.staging / name) and not self.job.output(name).optional:
                raise _MissingOutput(name)
        final = {}
        for name, destination in self.run.outputs.items():
            destination = Path(destination)
            if (self.staging / name).is_dir():
                shutil.copytree(self.staging / name, destination, dirs_exist_ok=True)
            destination.mkdir(parents=True, exist_ok=True)  # an optional output left empty
            final[name] = destination
        return final

    def _collect_model(self) -> dict[str, Path]:
        archive = self.trainer_root / "compressed_artifacts" / MODEL_ARCHIVE
        if not archive.is_file():
            raise _MissingOutput("model")
        with tarfile.open(archive) as tar:
            if not any(member.isfile() for member in tar.getmembers()):
                raise _MissingOutput("model")
        final = {}
        for name, destination in self.run.outputs.items():
            destination = Path(destination)
            destination.mkdir(parents=True, exist_ok=True)
            shutil.copy2(archive, destination / MODEL_ARCHIVE)
            final[name] = destination
        return final

    def cleanup(self) -> None:
        compose.kill_processes(self.root)
        containers.remove_run(self.run_id)
        remove_tree_or_warn(self.root)


class _MissingOutput(Exception):
    def __init__(self, channel: str) -> None:
        super().__init__(channel)
        self.channel = channel


def run_job(
    run: JobRun,
    *,
    image: str,
    session: OfflineSession,
    timeout: float | None = None,
    debug: DebugOptions | None = None,
    environment: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    code_dir: Path | None = None,
) -> JobResult:
    """Run one job in its container; raise JobFailedError (or JobTimeoutError) on failure.

    Outputs are copied into `run.outputs` only when the job succeeded and wrote all of them.
    """
    _check_directories(run)
    _check_image(image)
    ensure_network(containers.docker_client())
    say = progress or (lambda _message: None)
    state = _Run(
        run,
        image=image,
        session=session,
        debug=debug,
        environment=environment,
        code_dir=code_dir,
    )
    say(f"{run.job.name}: starting in {image} (run {state.run_id})")
    started = time.monotonic()
    try:
        with session.pinned():
            error, timed_out = state.execute(timeout)
        if timed_out:
            assert error is not None
            raise error
        ran = containers.run_containers(state.run_id)
        logs = containers.logs_of(ran)
        codes = containers.exit_codes(ran)
        failed_code = next((code for code in codes if code != 0), None)
        if failed_code is None and error is not None:
            failed_code = _sdk_exit_code(error)
        if not ran:
            reason = f"could not start its container ({error or 'no container was created'})"
            raise JobFailedError(run.job.name, failed_code, logs, reason=reason)
        if failed_code is not None or error is not None:
            raise JobFailedError(run.job.name, failed_code, logs) from error
        try:
            outputs = state.collect_outputs()
        except _MissingOutput as missing:
            raise JobFailedError(
                run.job.name,
                0,
                logs,
                reason=f"exited with code 0 but wrote nothing to its output {missing.channel!r}",
            ) from None
        duration = time.monotonic() - started
        say(f"{run.job.name}: done in {duration:.1f} s")
        return JobResult(run.job.name, state.run_id, 0, duration, logs, outputs)
    finally:
        state.cleanup()


class LocalMode:
    """Embedded S3 + offline session + reaper: `with LocalMode(image=...) as lm: lm.run(...)`.

    Real S3 is used only when asked for (`real_s3=True` or MLMAX_REAL_S3=1).
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
    ) -> None:
        self.image = image
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
        # Inspect mode (mlmax.pytest_inspect) swaps in a runner that debugs selected jobs.
        self.job_runner: JobRunner = run_job
        # Runs in progress (parallel steps run in other threads): the session's directory is
        # removed only once they have returned, or a thread still unwinding after Ctrl-C or
        # SIGTERM would create its directories again under the removed root.
        self._runs_in_progress = 0
        self._runs_done = threading.Condition()

    def __enter__(self) -> LocalMode:
        with self._stack as stack:
            swept = reaper.reap()  # what SIGKILLed sessions left
            if swept and self.progress:
                self.progress(reaper.describe(swept))
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

    @classmethod
    def _stop_running_jobs(cls, session_root: Path) -> None:
        compose.kill_processes(session_root)
        cls._remove_session_containers()

    @staticmethod
    def _remove_session_containers() -> None:
        session_id = labels.current_session().session_id
        try:
            found = containers.session_containers(session_id)
        except Exception:  # no engine to ask (it went away, or never was): nothing ours runs
            return
        containers.remove(found)

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
    ) -> JobResult:
        """Run a declared job (by name) with host directories for its channels."""
        if self.session is None:
            raise RuntimeError("use LocalMode as a context manager: with LocalMode(...) as lm")
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
            return self.job_runner(
                run,
                image=self.image_for(definition),
                session=self.session,
                timeout=self.default_timeout if timeout is None else timeout,
                debug=debug,
                environment=environment,
                progress=self.progress,
            )
        finally:
            with self._runs_done:
                self._runs_in_progress -= 1
                self._runs_done.notify_all()

    def _wait_for_runs_in_progress(self) -> None:
        # Their containers are gone by now (_stop_running_jobs), so they return quickly.
        with self._runs_done:
            self._runs_done.wait_for(lambda: self._runs_in_progress == 0, UNWIND_SECONDS)

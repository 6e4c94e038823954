"""Run one job in its SageMaker Local Mode container, and always clean up after it.

`run_job` builds the SDK objects (`mlmax.localmode.sdk.job_objects`) and runs them in an
`SdkThread`, waiting with a deadline in the calling thread (where Ctrl-C lands). On a
timeout or an interrupt mlmax kills the run's compose process, removes the run's containers
by label, and raises. After every run, whatever the outcome, the run's containers and
private directory are removed; outputs reach the caller's directories only when the job succeeded.

The run's id, labels, directory and clean-up are its `lifecycle.LocalRun`; what a series of
runs shares (embedded S3, offline session, reaper) is `local_mode.LocalMode`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import re
import shutil
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmax.common import Progress
from mlmax.localmode.debug import DebugOptions
from mlmax.localmode.engine import container_environment, container_user, oom_killed
from mlmax.localmode.errors import (
    JobFailedError,
    JobOutOfDiskError,
    JobSetupError,
    JobTimeoutError,
)
from mlmax.localmode.run.disk import DiskSpaceError, full_disk, full_disk_fix, require_room
from mlmax.localmode.run.failure_cause import empty_output, failure_cause
from mlmax.localmode.run.lifecycle import LocalRun
from mlmax.localmode.sdk import (
    OfflineSession,
    ProcessingStep,
    TrainingStep,
    extra_service_config,
    processing_step,
    training_step,
)
from mlmax.project import JobDefinition, JobRun, MemoryLimit, job_memory_limit

MODEL_ARCHIVE = "model.tar.gz"
_EXIT_CODE = re.compile(r"Process exited with code: (-?\d+)")


@dataclass(frozen=True)
class JobResult:
    """What a finished run produced (a run that fails raises instead: `JobFailedError`).

    Attributes:
        job: The job's name, as declared.
        run_id: The run's id, also the label on its containers.
        exit_code: The job's exit code: always 0, since a failing job raises.
        duration: Seconds from the run's start to its outputs being in place.
        logs: The job's output in its container (stdout and stderr).
        outputs: Each output channel's folder on the host, as the caller named it, filled
            once the job succeeded; a training job's model folder holds `model.tar.gz`.
    """

    job: str
    run_id: str
    exit_code: int
    duration: float
    logs: str
    outputs: dict[str, Path] = field(default_factory=dict)


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


def _has_files(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() for p in path.rglob("*"))


def _sdk_exit_code(error: BaseException | None) -> int | None:
    match = _EXIT_CODE.search(str(error)) if error else None
    return int(match.group(1)) if match else None


class ContainerRun:
    """One job's run in its `LocalRun`: its SDK step, its outputs and its outcome."""

    def __init__(
        self,
        run: JobRun,
        local: LocalRun,
        *,
        image: str,
        debug: DebugOptions | None,
        environment: Mapping[str, str] | None,
        code_dir: Path | None,
    ) -> None:
        self.run = run
        self.local = local
        self.job: JobDefinition = run.job
        self.code_dir = code_dir or self.job.source_dir
        self.image = image
        self.debug = debug
        self.environment = {**container_environment(), **(environment or {})}
        self.run_id = local.run_id
        self.labels = local.labels
        self.root = local.root
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
            inputs = {
                name: str(self._channel_directory(name, Path(p))) for name, p in inputs.items()
            }
            return training_step(
                self.job,
                image=self.image,
                session=self.local.sdk_session(self.trainer_root),
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
        sdk_root = self.root / "sdk"
        sdk_root.mkdir()
        return processing_step(
            self.job,
            image=self.image,
            session=self.local.sdk_session(sdk_root),
            inputs=inputs,
            outputs=outputs,
            arguments=arguments,
            debug=self.debug,
            environment=self.environment,
            code_dir=self.code_dir,
            job_name=f"mlmax-{self.run_id}",
        )

    def _channel_directory(self, name: str, source: Path) -> Path:
        """A training channel as SageMaker gives it: a directory, a file input inside it.

        Local Mode would bind a file input itself at the channel's path, where SageMaker
        downloads it into the channel's directory (and a script lists the directory).
        """
        if not source.is_file():
            return source
        staged = self.root / "channels" / name / source.name
        staged.parent.mkdir(parents=True)
        try:
            os.link(source, staged)  # no copy where the file system allows
        except OSError:
            shutil.copy2(source, staged)
        return staged.parent

    # -- running ---------------------------------------------------------------------------
    def execute(self, timeout: float | None) -> tuple[BaseException | None, bool]:
        """Run the step; return (the SDK's error, whether the run was stopped by timeout)."""
        step = self.build()
        hook = (
            extra_service_config(
                self.trainer_root,
                labels=self.labels,
                user=container_user(),
                volumes=self._alias_volumes(),
                limits=self.local.limits,
            )
            if self.job.kind == "training"
            else contextlib.nullcontext()
        )
        with hook:
            thread = self.local.start_sdk_call(step.execute)
            if not self.local.wait_sdk_call(thread, timeout):
                logs = self.local.logs()
                self.local.stop(thread)
                return JobTimeoutError(self.job.name, float(timeout or 0), logs), True
        return thread.error, False

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


def _refuse_a_full_disk(
    state: ContainerRun, code: int | None, logs: str, error: BaseException | None
) -> None:
    """A failure caused by a full disk is said so, naming the disk, whatever broke first."""
    place = full_disk(state.local.session.root, logs, str(error or ""))
    if place is not None:
        raise JobOutOfDiskError(state.run.job.name, code, logs, place, full_disk_fix())


def _job_failed(
    run: JobRun, ran: list[Any], logs: str, exit_code: int | None, memory: MemoryLimit | None
) -> JobFailedError:
    """The failure, with its cause and fix when the engine's state or the log names them."""
    cause = failure_cause(run, logs, oom_killed=oom_killed(ran), memory=memory)
    if cause is None:
        return JobFailedError(run.job.name, exit_code, logs)
    return JobFailedError(run.job.name, exit_code, logs, reason=cause.reason, fix=cause.fix)


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
    memory: str | int | None = None,
) -> JobResult:
    """Run one job in its container; raise JobFailedError (or JobTimeoutError) on failure.

    `memory` ("2g", or bytes) limits the container's memory; by default the job's declared
    instance type's memory does, and without one it has the machine's. Outputs are copied
    into `run.outputs` only when the job succeeded and wrote all of them.
    """
    _check_directories(run)
    require_room(run.job.name, run.inputs.values(), session.root)
    limit = job_memory_limit(run.job.instance_type, memory)
    say = progress or (lambda _message: None)
    with LocalRun(
        session, run.job.name, image=image, memory=limit.size if limit else None
    ) as local:
        state = ContainerRun(
            run, local, image=image, debug=debug, environment=environment, code_dir=code_dir
        )
        say(f"{run.job.name}: starting in {image} (run {local.run_id})")
        return _run(state, timeout, say, limit)


def _run(
    state: ContainerRun, timeout: float | None, say: Progress, memory: MemoryLimit | None
) -> JobResult:
    run, local = state.run, state.local
    started, started_at = time.monotonic(), time.time()
    with local.session.pinned():
        error, timed_out = state.execute(timeout)
    if timed_out:
        assert error is not None
        raise error
    ran = local.containers()
    logs = local.logs(ran)
    codes = local.exit_codes(ran)
    failed_code = next((code for code in codes if code != 0), None)
    if failed_code is None and error is not None:
        failed_code = _sdk_exit_code(error)
    if failed_code is not None or error is not None or not ran:
        _refuse_a_full_disk(state, failed_code, logs, error)
    if not ran:
        if local.was_started(started_at):
            raise JobFailedError(
                run.job.name,
                failed_code,
                logs,
                reason="was started, and then its container was removed before the job "
                "finished (by `docker rm -f` or a clean-up outside mlmax)",
                fix="run it again and leave its container alone until it ends",
            )
        reason = f"could not start its container ({error or 'no container was created'})"
        raise JobFailedError(run.job.name, failed_code, logs, reason=reason)
    if failed_code is not None or error is not None:
        raise _job_failed(run, ran, logs, failed_code, memory) from error
    try:
        outputs = state.collect_outputs()
    except OSError as failure:  # the caller's output directory's disk, not the run's
        if failure.errno != errno.ENOSPC:
            raise
        raise DiskSpaceError(
            f"job {run.job.name!r} succeeded but the disk of its output {failure.filename} "
            "filled while its outputs were copied there; free space there or choose another "
            "output directory"
        ) from None
    except _MissingOutput as missing:
        cause = empty_output(run, missing.channel)
        raise JobFailedError(run.job.name, 0, logs, reason=cause.reason, fix=cause.fix) from None
    duration = time.monotonic() - started
    say(f"{run.job.name}: done in {duration:.1f} s")
    return JobResult(run.job.name, state.run_id, 0, duration, logs, outputs)

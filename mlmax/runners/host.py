"""The host runner: each job script as a subprocess of this Python, on host directories.

The fastest inner loop (no Docker). The job finds what its SageMaker container gives it
(`sagemaker_environment`): a training job its `SM_*` variables and /opt/ml/input/config, a
processing job /opt/ml/config; and its channels where its container has them:

- Where Linux lets this user make a user and mount namespace (`mount_namespace`), the job
  runs in one where /opt/ml is the run's private directory with each channel and the job's
  code bound at its container path. The job gets the very command line of its container
  (channels at their container paths, so a script with hard-coded /opt/ml paths runs too).
- Elsewhere each channel argument points at its host directory (the job contract makes them
  interchangeable) and the `SM_*` variables at host directories; a job that still uses a
  container path fails with one sentence that names the path and the fix.

Either way the job runs as the caller, in a scratch working directory of the run's own.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from mlmax.common import CENSUS_JOBS, require_extra
from mlmax.project import (
    JOB_ENVIRONMENT,
    JOBS,
    JobDefinition,
    JobRun,
    StepFailed,
    StepResult,
    base_job_name,
)
from mlmax.runners import mount_namespace
from mlmax.runners.sagemaker_environment import (
    MAX_RUNTIME_SECONDS,
    MODEL_DIR,
    OPT_ML,
    OUTPUT_DATA_DIR,
    ProcessingChannel,
    ProcessingJob,
    TrainingJob,
    job_name,
    training_channel_path,
    write_config_files,
)

# A path under /opt/ml quoted in a log line (a traceback's FileNotFoundError, an open() error).
_QUOTED_CONTAINER_PATH = re.compile(r"""['"](/opt/ml(?:/[^'"\s]*)?)['"]""")


def job_command(step_run: JobRun, input_dirs: Mapping[str, str] | None = None) -> list[str]:
    """The command line that runs `step_run` with its channels at their host paths;
    `input_dirs` stand in for inputs given as files (a channel is a directory)."""
    job = step_run.job
    args = [sys.executable, str(job.script_path)]
    # Absolute paths: the job runs in a scratch working directory of its own.
    for name, path in step_run.inputs.items():
        given = (input_dirs or {}).get(name) or str(Path(path).absolute())
        args += [job.input(name).argument, given]
    for name, path in step_run.outputs.items():
        args += [job.output(name).argument, str(Path(path).absolute())]
    return args + step_run.all_arguments


def host_environment() -> dict[str, str]:
    """The caller's environment without anything SageMaker's, plus every job's variables."""
    # A SageMaker-looking environment of the caller must not redirect the job: the job gets
    # its own, as its container does.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SM_") and key != "TRAINING_JOB_NAME"
    }
    env.update(JOB_ENVIRONMENT)  # e.g. keep the project's source folders free of bytecode
    return env


def _container_location(job: JobDefinition, name: str, is_input: bool) -> str:
    """Where the container has a channel: a training input where the SDK mounts it."""
    if job.kind == "training" and is_input:
        return training_channel_path(name)
    return (job.input(name) if is_input else job.output(name)).container_path


class HostJob:
    """One run's layout: the private /opt/ml, the binds onto it, the command, the environment.

    `mapped`: whether the job runs with /opt/ml mapped (else with host paths).
    """

    def __init__(self, step_run: JobRun, run_dir: Path, *, mapped: bool) -> None:
        self.run = step_run
        self.job = step_run.job
        self.mapped = mapped
        self.root = run_dir / "opt-ml"  # the job's /opt/ml
        self.work = run_dir / "work"  # its working directory
        self.binds: list[tuple[Path, str]] = []
        for name, path in step_run.inputs.items():
            source = Path(path).absolute()
            target = _container_location(self.job, name, is_input=True)
            # A file input lands in its channel's directory, as SageMaker downloads it.
            self.binds.append((source, f"{target}/{source.name}" if source.is_file() else target))
        for name, path in step_run.outputs.items():
            target = _container_location(self.job, name, is_input=False)
            self.binds.append((Path(path).absolute(), target))
        self.binds.append((self.job.source_dir, self.job.code_root))

    def host_path(self, container_path: str) -> str:
        """Where a container path's data is on the host."""
        for source, target in sorted(self.binds, key=lambda bind: -len(bind[1])):
            if container_path == target or container_path.startswith(target + "/"):
                return str(source) + container_path[len(target) :]
        return str(self.root) + container_path[len(OPT_ML) :]

    def with_host_paths(self, text: str) -> str:
        """`text` (the job's log) with each container path of a channel or the code replaced
        by the host path behind it: the user reads the files they gave."""
        if not self.mapped:
            return text
        sources = {target: str(source) for source, target in self.binds}
        targets = sorted(sources, key=len, reverse=True)  # a file's path before its folder's
        # A whole path or a path's leading folders, never a part of a longer name.
        pattern = "(?:" + "|".join(map(re.escape, targets)) + r")(?![\w.-])"
        return re.sub(pattern, lambda match: sources[match.group(0)], text)

    def seen_path(self, container_path: str) -> str:
        """The path the job uses for a container path."""
        return container_path if self.mapped else self.host_path(container_path)

    def prepare(self, timeout_seconds: float | None) -> tuple[list[str], dict[str, str]]:
        """Create the run's directories and config files; the command and environment."""
        self.work.mkdir(parents=True)
        self.root.mkdir()
        if not self.mapped:
            # Channel directories that exist only under the private root (a file input's)
            # hold a link to the file, for the SM_* variables to point at.
            for source, target in self.binds:
                if source.is_file():
                    link = Path(self.host_path(target.rpartition("/")[0])) / source.name
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(source)
        env = host_environment()
        argv = [sys.executable, str(self.job.script_path), *self.run.all_arguments]
        if self.job.kind == "training":
            training = TrainingJob(job_name(self.job.name), list(self.run.inputs), {})
            files = training.config_files()
            env.update(training.environment(self.seen_path))
            for container_dir in (OUTPUT_DATA_DIR, MODEL_DIR):
                Path(self.host_path(container_dir)).mkdir(parents=True, exist_ok=True)
        else:
            files = self._processing_job(argv, timeout_seconds).config_files()
        write_config_files(files, self.host_path)
        if not self.mapped:
            input_dirs = {
                name: self.host_path(_container_location(self.job, name, is_input=True))
                for name in self.run.inputs
            }
            return job_command(self.run, input_dirs), env
        return mount_namespace.command(argv, root=self.root, binds=self.binds, cwd=self.work), env

    def _processing_job(self, argv: list[str], timeout_seconds: float | None) -> ProcessingJob:
        def channel(name: str, path: Path, is_input: bool) -> ProcessingChannel:
            location = _container_location(self.job, name, is_input)
            return ProcessingChannel(name, Path(path).absolute().as_uri(), location)

        code = ProcessingChannel("code", self.job.source_dir.as_uri(), self.job.code_root + "/")
        return ProcessingJob(
            name=f"{base_job_name(self.job.name)}-{secrets.token_hex(4)}",
            inputs=[
                *(channel(name, path, True) for name, path in self.run.inputs.items()),
                code,
            ],
            outputs=[channel(name, path, False) for name, path in self.run.outputs.items()],
            entrypoint=argv[:2],
            arguments=self.run.all_arguments,
            environment=JOB_ENVIRONMENT,
            max_runtime_seconds=int(timeout_seconds or MAX_RUNTIME_SECONDS),
        )


class ContainerPathUnmapped(StepFailed):
    """A job used a container path the host runner could not map: the user's script or
    the runner choice is to change, so `mlmax` says so in one sentence and exits with 2."""

    def is_usage_error(self) -> bool:
        return True

    def sentence(self) -> str:
        return f"job {self.job!r} {self.reason}"


def _where_to_read(job: JobDefinition, path: str) -> str | None:
    """What the script should read instead of `path`: its channel's argument or variable."""
    channels = [(channel, True) for channel in job.inputs]
    channels += [(channel, False) for channel in job.outputs]
    for channel, is_input in channels:
        location = _container_location(job, channel.name, is_input).rstrip("/")
        if path.rstrip("/") == location or path.startswith(location + "/"):
            where = f"{channel.argument}, where mlmax passes {('output', 'input')[is_input]} "
            where += repr(channel.name)
            if job.kind != "training":
                return where
            variable = f"SM_CHANNEL_{channel.name.upper()}" if is_input else "SM_MODEL_DIR"
            return f"${variable} or {where}"
    if job.kind == "training" and path.startswith(OUTPUT_DATA_DIR):
        return "$SM_OUTPUT_DATA_DIR"
    return None


def _unmapped_path_failure(
    job: JobDefinition, exit_code: int, log: str, why: str
) -> ContainerPathUnmapped | None:
    used = _QUOTED_CONTAINER_PATH.findall(log)
    if not used:
        return None
    path = used[-1]
    instead = _where_to_read(job, path)
    fix = f"read the path from {instead}, or run" if instead else "run"
    reason = (
        f"used the container path {path}, which the host runner cannot map here because "
        f"{why}; {fix} the job in its container with --runner local"
    )
    return ContainerPathUnmapped(job.name, exit_code, log, reason=reason)


class HostRunner:
    """Runs jobs as `python <script> ...` subprocesses of this interpreter."""

    name = "host"

    def __init__(
        self, timeout_seconds: float | None = None, max_parallel_steps: int | None = None
    ) -> None:
        self.timeout_seconds = timeout_seconds
        # Independent steps run side by side: each job is a separate process, so they share
        # nothing but the CPU. Most of a host job's time is importing pandas and scikit-learn.
        self.max_parallel_steps = max_parallel_steps or min(2, os.cpu_count() or 1)
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._children: set[subprocess.Popen[str]] = set()
        self._children_lock = threading.Lock()
        # None while /opt/ml can be mapped, else why not (asked once per runner).
        self.unmappable: str | None = None

    def __enter__(self) -> Self:
        # Each run gets its directories in here, so a stray relative write never lands in
        # the caller's working directory or the source tree.
        self._workdir = tempfile.TemporaryDirectory(prefix="mlmax-host-")
        self.unmappable = mount_namespace.unavailable_reason()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_children()  # before their folders go: a job still writing keeps them full
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def _run_child(
        self, command: list[str], *, cwd: Path, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        """subprocess.run, with the child known to the runner until it ends: on Ctrl-C the
        main thread leaves the pipeline while parallel steps' threads still wait on their
        jobs, and the runner's exit must stop those jobs before it removes their folders."""
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env
        )
        with self._children_lock:
            self._children.add(child)
        try:
            with child:
                try:
                    output, _ = child.communicate(timeout=self.timeout_seconds)
                except subprocess.TimeoutExpired:
                    child.kill()
                    output, _ = child.communicate()
                    raise subprocess.TimeoutExpired(
                        command, self.timeout_seconds or 0, output
                    ) from None
                except BaseException:  # Ctrl-C and the like: the job goes with us
                    child.kill()
                    raise
            return subprocess.CompletedProcess(command, child.returncode, output)
        finally:
            with self._children_lock:
                self._children.discard(child)

    def _stop_children(self) -> None:
        with self._children_lock:
            children = list(self._children)
        for child in children:
            with contextlib.suppress(OSError):
                child.kill()
        for child in children:
            child.wait()

    def run_step(self, step_run: JobRun) -> StepResult:
        if self._workdir is None:
            raise RuntimeError("use the host runner as a context manager: `with HostRunner():`")
        if step_run.job in JOBS.values():  # mlmax's own (the census sample's) on this Python
            require_extra("census", f"the {step_run.job.name} job on the host runner", CENSUS_JOBS)
        for path in step_run.outputs.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix=f"{step_run.job.name}-", dir=self._workdir.name))
        try:
            job = HostJob(step_run, run_dir, mapped=self.unmappable is None)
            command, env = job.prepare(self.timeout_seconds)
            return self._execute(job, command, env)
        finally:
            # Only the run's own directories: the channels were bound in a namespace that
            # ended with the job, or linked, and links are removed, not followed.
            shutil.rmtree(run_dir, ignore_errors=True)

    def _execute(self, job: HostJob, command: list[str], env: dict[str, str]) -> StepResult:
        name = job.job.name
        started = time.perf_counter()
        try:
            completed = self._run_child(command, cwd=job.work, env=env)
        except subprocess.TimeoutExpired as error:
            output = error.output or ""
            log = output.decode(errors="replace") if isinstance(output, bytes) else output
            raise StepFailed(
                name,
                None,
                job.with_host_paths(log),
                reason=f"did not finish within {self.timeout_seconds:g} s and was stopped",
            ) from None
        duration = time.perf_counter() - started
        code, log = completed.returncode, job.with_host_paths(completed.stdout)
        if code == 0:
            return StepResult(name, duration, log)
        refusal = mount_namespace.reason_in(log)
        if code == mount_namespace.UNAVAILABLE_EXIT and refusal:
            raise StepFailed(
                name, None, log, reason=f"could not start: cannot map /opt/ml ({refusal})"
            )
        if self.unmappable is not None:
            unmapped = _unmapped_path_failure(job.job, code, log, self.unmappable)
            if unmapped is not None:
                raise unmapped
        raise StepFailed(name, code, log)

"""The host runner: each job script as a subprocess of this Python, on host directories.

The fastest inner loop (no Docker). The job gets exactly the arguments it would get in its
container, except that every channel argument points at a host directory instead of the
container path (the job contract makes them interchangeable).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from mlmax.project import JobRun, StepFailed, StepResult


def job_command(step_run: JobRun) -> list[str]:
    """The command line that runs `step_run` on the host."""
    job = step_run.job
    args = [sys.executable, str(job.script_path)]
    # Absolute paths: the job runs in a scratch working directory of its own.
    for name, path in step_run.inputs.items():
        args += [job.input(name).argument, str(Path(path).absolute())]
    for name, path in step_run.outputs.items():
        args += [job.output(name).argument, str(Path(path).absolute())]
    return args + step_run.all_arguments


def _job_environment() -> dict[str, str]:
    env = dict(os.environ)
    # A SageMaker-looking environment of the caller must not redirect the job's defaults;
    # every channel is passed explicitly anyway.
    for key in list(env):
        if key.startswith("SM_CHANNEL_") or key == "SM_MODEL_DIR":
            del env[key]
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep the workspace's jobs folder clean
    env["PYTHONUNBUFFERED"] = "1"
    return env


class HostRunner:
    """Runs jobs as `python mlmax/jobs/<script> ...` subprocesses."""

    name = "host"

    def __init__(
        self, timeout_seconds: float | None = None, max_parallel_steps: int | None = None
    ) -> None:
        self.timeout_seconds = timeout_seconds
        # Independent steps run side by side: each job is a separate process, so they share
        # nothing but the CPU. Most of a host job's time is importing pandas and scikit-learn.
        self.max_parallel_steps = max_parallel_steps or min(2, os.cpu_count() or 1)
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Self:
        # Jobs run in a scratch directory so a stray relative write never lands in the
        # caller's working directory or the source tree.
        self._workdir = tempfile.TemporaryDirectory(prefix="mlmax-host-")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def run_step(self, step_run: JobRun) -> StepResult:
        if self._workdir is None:
            raise RuntimeError("use the host runner as a context manager: `with HostRunner():`")
        for path in step_run.outputs.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            # subprocess.run kills the child on any exception, Ctrl-C included.
            completed = subprocess.run(
                job_command(step_run),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=self._workdir.name,
                env=_job_environment(),
                timeout=self.timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            output = error.output or ""
            log = output.decode(errors="replace") if isinstance(output, bytes) else output
            raise StepFailed(
                step_run.job.name,
                None,
                log,
                reason=f"did not finish within {self.timeout_seconds:g} s and was stopped",
            ) from None
        duration = time.perf_counter() - started
        if completed.returncode != 0:
            raise StepFailed(step_run.job.name, completed.returncode, completed.stdout)
        return StepResult(step_run.job.name, duration, completed.stdout)

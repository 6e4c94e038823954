"""What every runner offers the pipeline: run one job, report how it went, clean up after.

The runners live in two packages (`mlmax.runners`: host and Local Mode; `mlmax.cloud`:
SageMaker) and the pipeline drives them all through this contract, which imports no runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from mlmax.common import EnvironmentNotReadyError, MlmaxError
from mlmax.project.catalog import JobRun

LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class StepResult:
    """A job that finished successfully: how long it took and what it printed."""

    job: str
    duration_seconds: float
    log: str


class StepFailed(MlmaxError, RuntimeError):
    """A job ended with a non-zero exit code (or could not be started at all)."""

    def __init__(
        self, job: str, exit_code: int | None, log: str, reason: str = "", fix: str = ""
    ) -> None:
        self.job = job
        self.fix = fix  # what to do, when the runner knows the cause
        self.exit_code = exit_code
        self.log = log
        self.reason = reason or (
            f"exited with code {exit_code}" if exit_code is not None else "did not finish"
        )
        super().__init__(self.describe())

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log.rstrip().splitlines()[-lines:])

    @property
    def error_line(self) -> str | None:
        """The job's own `error: ...` sentence (the contract's JobInputError line), if any."""
        for line in reversed(self.log.splitlines()):
            if line.startswith("error: "):
                return line.removeprefix("error: ")
        return None

    def describe(self) -> str:
        head = f"job {self.job!r} {self.reason}" + (f"; {self.fix}" if self.fix else "")
        tail = self.tail()
        return f"{head}; last lines of its log:\n{tail}" if tail else head

    def is_usage_error(self) -> bool:
        # The job refused its input (its JobInputError, exit code 2): the user's input is at
        # fault, as for a bad argument.
        return bool(self.error_line) and self.exit_code == 2

    def sentence(self) -> str:
        line = self.error_line
        return line if line and self.is_usage_error() else self.describe()


class RunnerUnavailableError(EnvironmentNotReadyError, RuntimeError):
    """This runner cannot run here (e.g. Local Mode without Docker); the message says why."""


@runtime_checkable
class Runner(Protocol):
    """Runs catalogue jobs somewhere (host processes, Local Mode containers, SageMaker).

    Used as a context manager so whatever the runner starts for a whole run (an S3 endpoint,
    a session, a temp dir) is set up once and always cleaned up.
    """

    name: str
    # How many jobs may run at once (optional attribute; 1 when absent). Above 1, run_step is
    # called from several threads at the same time.

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def run_step(self, step_run: JobRun) -> StepResult:
        """Run one job to completion; raise StepFailed if it fails."""
        ...

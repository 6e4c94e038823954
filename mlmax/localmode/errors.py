"""Errors a Local Mode run raises: one sentence naming the job, the cause and the fix."""

from __future__ import annotations

from mlmax.common import MlmaxError

LOG_TAIL_LINES = 30


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log (container logs use \\r\\n under a TTY)."""
    kept = text.replace("\r\n", "\n").rstrip("\n").split("\n")[-lines:]
    return "\n".join(kept)


class LocalModeError(MlmaxError, RuntimeError):
    """Base class of the errors mlmax raises for Local Mode runs."""


class JobFailedError(LocalModeError):
    """The job's container failed (non-zero exit, no outputs, or stopped)."""

    def __init__(
        self,
        job: str,
        exit_code: int | None,
        logs: str,
        reason: str = "",
        fix: str = "fix the job or its inputs and run it again",
    ) -> None:
        self.job = job
        self.exit_code = exit_code
        self.logs = logs
        self.log_tail = tail(logs)
        self.reason = reason  # the cause when it is not the exit code, e.g. a missing output
        self.fix = fix
        why = reason or f"failed in its container with exit code {exit_code}"
        super().__init__(
            f"job {job!r} {why}; {fix} (last lines of the container log below)\n{self.log_tail}"
        )


class JobOutOfDiskError(JobFailedError):
    """The disk the run's files go to filled (the job's own error, if any, is a symptom)."""

    def __init__(self, job: str, exit_code: int | None, logs: str, place: str, fix: str) -> None:
        super().__init__(job, exit_code, logs, reason=f"ran out of disk space in {place}", fix=fix)


class JobTimeoutError(JobFailedError):
    """The job ran longer than its timeout; its containers were removed."""

    def __init__(self, job: str, timeout: float, logs: str) -> None:
        self.timeout = timeout
        super().__init__(
            job,
            None,
            logs,
            reason=f"did not finish within its {timeout:g} s timeout and was stopped "
            "(raise the timeout if the job is just slow)",
        )


class JobSetupError(LocalModeError):
    """A run could not start: bad input directories, bad arguments."""

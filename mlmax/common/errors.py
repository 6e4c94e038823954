"""The one root of the errors mlmax raises on purpose, and its two kinds.

An `MlmaxError`'s message is one sentence that says what is wrong and how to fix it: the
`mlmax` command prints it as `error: <sentence>` (mlmax.cli.main) and the pytest plugin as a
usage error or a test's failure text (mlmax.pytest_plugin.plugin), each in one place. Any other
exception is a bug in mlmax and keeps its traceback.

Whose fault it is decides the command's exit code (README): the user's arguments or input
(`UsageError`, exit code 2), or a job, a run or this machine (every other `MlmaxError`,
exit code 1).
"""

from __future__ import annotations


class MlmaxError(Exception):
    """A job, a run or this machine failed; the message says why and what to do."""

    def is_usage_error(self) -> bool:
        """Whether the user's arguments or input are at fault (rather than a job or the
        machine): `mlmax` exits with 2 instead of 1."""
        return False

    def sentence(self) -> str:
        """What the user reads: the message (a job failure adds its log tail below it)."""
        return str(self)


class UsageError(MlmaxError):
    """Bad arguments or bad input files: the user fixes them, the command exits with 2."""

    def is_usage_error(self) -> bool:
        return True


class EnvironmentNotReadyError(MlmaxError):
    """This machine cannot run the work yet (Docker, an image, a port, AWS settings)."""

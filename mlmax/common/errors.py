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


class ProjectCodeError(UsageError):
    """The project's own code, which mlmax called (a function named on the command line, its
    module), raised: one sentence, then the project's own lines the error passed through,
    innermost last. Not a traceback of mlmax: the fix is in those lines."""

    @classmethod
    def raised_by(cls, what: str, error: BaseException) -> ProjectCodeError:
        import sysconfig
        import traceback
        from pathlib import Path

        # The interpreter's own libraries (the standard library, site-packages) and mlmax are
        # not the project; an installed (not editable) project is only its innermost line.
        libraries = [Path(sysconfig.get_path(name)).resolve() for name in ("stdlib", "purelib",
                     "platlib", "platstdlib")]  # fmt: skip
        libraries.append(Path(__file__).resolve().parents[1])

        def own(frame: traceback.FrameSummary) -> bool:
            path = Path(frame.filename).resolve()
            return not frame.filename.startswith("<") and not any(
                path.is_relative_to(library) for library in libraries
            )

        frames = traceback.extract_tb(error.__traceback__)
        shown = [frame for frame in frames if own(frame)] or frames[-1:]
        lines = [f"{what} raised {type(error).__name__}: {error}; fix it and run again"]
        here = Path.cwd()
        for frame in shown:
            path = Path(frame.filename)
            where = path.relative_to(here) if path.is_relative_to(here) else path
            lines.append(f"  {where}:{frame.lineno}: in {frame.name}")
            if frame.line:
                lines.append(f"    {frame.line.strip()}")
        return cls("\n".join(lines))

"""What every command module shares: exit codes, the progress and error lines, argument types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    # What a command module's `register` receives: its parent's `add_subparsers()`.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

# A command's handler: the parsed arguments in, the exit code out.
Handler = Callable[[argparse.Namespace], int]
# One row of a run's summary table: step, status, seconds (None: did not run), detail.
StepRow = tuple[str, str, float | None, str]


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def port_number(text: str) -> int:
    """A TCP port for 127.0.0.1: 1-65535, or 0 for a free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value} is not a port; give one from 1 to 65535, or 0 for a free one"
        )
    return value


def print_steps(steps: list[StepRow], status: str, seconds: float, detail: str) -> None:
    """The summary table of a run: one row a step, then the total."""
    from mlmax.common import print_table

    rows = [[name, st, f"{s:.1f} s" if s is not None else "-", d] for name, st, s, d in steps]
    rows.append(["total", status, f"{seconds:.1f} s", ""])
    print_table(["step", "status", "duration", detail], rows, right=(2,))


def print_pipeline_steps(steps: Sequence[Any], status: str, seconds: float) -> None:
    """The steps of a local SageMaker Pipeline execution (`mlmax.cloud`'s StepOutcome), as
    `mlmax pipeline run` and `mlmax pipeline --runner local-pipeline` print them."""
    rows = [(s.name, s.status, s.seconds, s.failure_reason or s.detail or "") for s in steps]
    print_steps(rows, status, seconds, "detail")

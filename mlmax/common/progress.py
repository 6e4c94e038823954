"""Progress lines for long steps (image builds, job runs), shown on stderr by default."""

from __future__ import annotations

import sys
from collections.abc import Callable

Progress = Callable[[str], None]


def to_stderr(line: str) -> None:
    """Print one progress line on stderr, so stdout stays free for results."""
    print(line, file=sys.stderr, flush=True)


def or_default(progress: Progress | None) -> Progress:
    """The given callback, or printing to stderr when none was given."""
    return progress if progress is not None else to_stderr

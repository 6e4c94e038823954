"""Room for a run's files: checked before a job starts, and the disk named when it fills.

A Local Mode job's files go to the session's directory (in TMPDIR, or MLMAX_WORK_DIR): the
copy of its inputs the SDK mounts, what the job writes, and the S3 server's large objects
(in the server's TMPDIR). A disk too small for that fails deep inside compose, the SDK or
the S3 server; here it is one sentence naming the place and its free space.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mlmax.common import EnvironmentNotReadyError
from mlmax.localmode.sdk import WORK_DIR_ENV

# Besides the inputs' copy and as much again for the outputs: the job's code, the compose
# file, the SDK's and the S3 server's small files.
MARGIN_BYTES = 10 * 1024 * 1024
# The words a full disk leaves in a job's log or an SDK error (the S3 server says the first).
FULL_DISK_WORDS = ("No space left on device", "InsufficientStorage", "ENOSPC")


class DiskSpaceError(EnvironmentNotReadyError):
    """The disk a run's files go to has too little room (or filled up)."""


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(folder) / name).stat().st_size
            except OSError:  # gone as we looked
                continue
    return total


def needed_bytes(inputs: Iterable[Path]) -> int:
    """A lower bound of the room a job needs: its inputs' copy, as much for its outputs."""
    return 2 * sum(_size(Path(path)) for path in inputs) + MARGIN_BYTES


def _name_of(place: Path) -> str:
    if os.environ.get(WORK_DIR_ENV) and place == Path(os.environ[WORK_DIR_ENV]):
        return WORK_DIR_ENV
    return "TMPDIR"


def _places(session_root: Path) -> list[Path]:
    """Where the run writes: the session's directory's parent and the temp dir."""
    return list(dict.fromkeys([session_root.parent, Path(tempfile.gettempdir())]))


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"


def _describe(place: Path) -> str:
    usage = shutil.disk_usage(place)
    return (
        f"{place} ({_name_of(place)}: {_megabytes(usage.free)} free of {_megabytes(usage.total)})"
    )


def _fix() -> str:
    return (
        "free space there, or point TMPDIR (and MLMAX_WORK_DIR, if set) at a disk with more "
        "room, e.g. TMPDIR=/var/tmp"
    )


def require_room(job: str, inputs: Iterable[Path], session_root: Path) -> None:
    """DiskSpaceError unless each place the job writes to has room for it (`needed_bytes`)."""
    needed = needed_bytes(inputs)
    for place in _places(session_root):
        if shutil.disk_usage(place).free < needed:
            raise DiskSpaceError(
                f"job {job!r} needs about {_megabytes(needed)} for its files (twice its inputs "
                f"and {_megabytes(MARGIN_BYTES)}), more than is free in {_describe(place)}; "
                f"{_fix()}"
            )


def full_disk(session_root: Path, *texts: str) -> str | None:
    """The place that filled (described), if a failure's `texts` say a disk was full."""
    if not any(words in text for text in texts for words in FULL_DISK_WORDS):
        return None
    tightest = min(_places(session_root), key=lambda p: shutil.disk_usage(p).free)
    return _describe(tightest)


def full_disk_fix() -> str:
    """What the user does about a disk that filled."""
    return _fix()

"""mlmax's own cache directory, shared by every process of the user, and locks in it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock


def cache_root() -> Path:
    """The cache: $MLMAX_CACHE_DIR, else $XDG_CACHE_HOME/mlmax, else ~/.cache/mlmax."""
    override = os.environ.get("MLMAX_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mlmax"


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock shared by every process using the same cache (xdist workers)."""
    lock_dir = cache_root() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    # A new FileLock per call: threads of one process exclude each other too.
    with FileLock(lock_dir / f"{name}.lock"):
        yield

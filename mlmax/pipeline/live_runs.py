"""Where the records of running pipelines are, kept in the user's cache.

A run's directory may be anywhere (`--output`); a killed run cannot say where it was. So a
run notes its directory here while its record says "running" and removes the note when the
record ends, and the sweep (`mlmax clean`, the next run) finds a killed run's record wherever
it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mlmax.common import cache_root


def _registry() -> Path:
    return cache_root() / "live-runs"


def _entry(run_dir: Path) -> Path:
    key = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:20]
    return _registry() / f"{key}.json"


def note_running(run_dir: Path) -> None:
    """Note that `run_dir`'s record says "running" (written atomically: readers race us)."""
    entry = _entry(run_dir)
    entry.parent.mkdir(parents=True, exist_ok=True)
    temporary = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"run_dir": str(run_dir.resolve())}))
    os.replace(temporary, entry)


def forget(run_dir: Path) -> None:
    """The record has ended (or was marked killed): nothing to find any more."""
    _entry(run_dir).unlink(missing_ok=True)


def noted_run_dirs() -> list[Path]:
    """Every run directory noted as running, whether its run still lives or not."""
    found = []
    try:
        entries = sorted(_registry().glob("*.json"))
    except OSError:
        return []
    for entry in entries:
        try:
            found.append(Path(json.loads(entry.read_text())["run_dir"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # removed by its run as we read, or not one of ours
    return found

"""Run directories: a new one per run (or the user's --output, checked)."""

from __future__ import annotations

import contextlib
import secrets
from datetime import datetime
from pathlib import Path

from mlmax.common import UsageError

DEFAULT_RUNS_DIR = Path("runs")


def new_run_dir(base: Path = DEFAULT_RUNS_DIR) -> Path:
    """`base/<YYYYmmdd-HHMMSS>-<6 hex>`: sortable by time, unique between parallel runs."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return base / f"{stamp}-{secrets.token_hex(3)}"


class RunDirError(UsageError, ValueError):
    """The run directory cannot be used; the message names it, the reason and the fix."""


def prepare_run_dir(output: Path | None) -> Path:
    """The directory a run writes to; an explicit `output` must be new or empty, and writable.

    Raises RunDirError (one sentence) instead of an OSError traceback: /proc, a path under a
    file, a read-only directory.
    """
    run_dir = new_run_dir() if output is None else output
    flag = "--output" if output is not None else "the default run directory"
    created = not run_dir.exists()
    try:
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise RunDirError(
                f"output directory {run_dir} already exists and is not empty; "
                "choose a new directory or leave --output out"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        # Root ignores permission bits, so only writing shows a read-only place.
        probe = run_dir / f".write-probe-{secrets.token_hex(3)}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        raise RunDirError(
            f"cannot write the run directory {run_dir} ({error.strerror or error}); "
            f"choose a writable directory for {flag}"
        ) from None
    return run_dir

"""Will generated data of N rows fit in memory? Checked before anything is generated.

Without this, `--rows 10000000000` dies with a MemoryError traceback after creating the run
directory. The estimate is deliberately rough and generous to the user: `BYTES_PER_ROW`
covers what the generator holds per row at its peak and the jobs' pandas and one-hot copies
of the same rows, which take a few times that.
"""

from __future__ import annotations

import os

BYTES_PER_ROW = 2048


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (MemAvailable), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def rows_too_many_for_memory(rows: int, available: int | None = None) -> str | None:
    """One sentence naming the problem and the fix when `rows` will not fit, else None."""
    available = available_memory() if available is None else available
    if available is None or rows * BYTES_PER_ROW <= available:
        return None
    most = available // BYTES_PER_ROW
    return (
        f"--rows {rows} needs about {rows * BYTES_PER_ROW / 1e9:,.1f} GB of memory and this "
        f"machine has {available / 1e9:.1f} GB available; use at most {most} rows"
    )

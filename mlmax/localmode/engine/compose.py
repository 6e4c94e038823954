"""The docker-compose process the SDK starts for a run: found by its compose file, stopped.

The SDK starts compose with Popen in the same process group and gives no handle back. On a
timeout or Ctrl-C mlmax removes the run's containers, which ends compose, and then makes
sure the compose process of that run (recognised by the run's private directory in its
command line) is gone, without touching any other process.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from mlmax.common import WaitTimeout, wait_until


def processes_using(marker: Path) -> list[int]:
    """Pids of this user's processes whose command line mentions `marker` (Linux /proc)."""
    needle = str(marker).encode()
    own = os.getpid()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited child of the SDK's Popen is a zombie until the SDK reaps it; that is gone
    # for our purpose. Reaping it here would steal its exit code from the SDK.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_processes(marker: Path, wait: float = 5.0) -> list[int]:
    """SIGKILL the processes mentioning `marker` and wait up to `wait` s for them to go.

    No SIGTERM first: compose would answer it by stopping the containers gracefully, which
    takes 10 s for a Python PID 1; mlmax removes the containers itself right after.
    """
    pids = [pid for pid in processes_using(marker) if _alive(pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(WaitTimeout):  # still there after `wait`: left to the caller
        wait_until(
            lambda: not any(_alive(p) for p in pids),
            timeout=wait,
            what="the killed compose processes' exit",
            interval=0.02,
        )
    return pids

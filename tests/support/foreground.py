"""A command run as a terminal runs its foreground job: in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator


@contextlib.contextmanager
def foreground_job(command: list[str], **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    """Start `command` in its own process group (Ctrl-C there = SIGINT to the group).

    Whatever happens in the block, the group is SIGKILLed if it is still running at the end.
    """
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,  # type: ignore[call-overload]
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

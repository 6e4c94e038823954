"""The SDK call of a run goes in a worker thread; the calling thread waits with a deadline.

The calling thread is where Ctrl-C lands: running the SDK call in it would let the SDK's
telemetry wrapper swallow the KeyboardInterrupt while compose and the container keep
running. So a job run, an endpoint and a local pipeline each start their SDK call here,
wait in the calling thread, and on a timeout or an interrupt stop the run (`stop_run`)
before re-raising.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from mlmax.common.waiting import WaitTimeout, wait_until
from mlmax.localmode.engine import compose, containers
from mlmax.localmode.sdk.speedups import untraced

# How long a stopped run may take to unwind (compose killed, SDK copying) before we move on.
UNWIND_SECONDS = 30.0
# Ctrl-C is handled between joins; a join wakes at once when the call returns.
JOIN_SECONDS = 0.5


class SdkThread(threading.Thread):
    """Runs the SDK call; keeps whatever it raised for the waiting thread."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._target_call = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with untraced():  # under Debug Test: the SDK's own work, no one steps through it
                self._target_call()
        except BaseException as error:  # handed to the waiting thread
            self.error = error

    def finished_within(self, timeout: float | None) -> bool:
        """Wait for the call to return: False if `timeout` seconds passed first (None: no
        limit). A KeyboardInterrupt in the calling thread propagates between joins."""
        try:
            wait_until(
                lambda: not self.is_alive(),
                timeout=timeout,
                what=f"the SDK call of {self.name}",
                interval=JOIN_SECONDS,
                pause=self.join,
            )
        except WaitTimeout:
            return False
        return True


def stop_run(thread: SdkThread, root: Path, run_id: str) -> None:
    """Kill the run's compose process and remove its containers; let the SDK unwind."""
    compose.kill_processes(root)
    containers.remove_run(run_id)
    thread.join(UNWIND_SECONDS)
    # compose may have created a container between the two steps above.
    containers.remove_run(run_id)

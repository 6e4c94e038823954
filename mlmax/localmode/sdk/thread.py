"""The SDK call of a run goes in a worker thread; the calling thread waits with a deadline.

The calling thread is where Ctrl-C lands: running the SDK call in it would let the SDK's
telemetry wrapper swallow the KeyboardInterrupt while compose and the container keep
running. So every run starts its SDK call here and waits in the calling thread; on a
timeout or an interrupt the run is stopped before the wait re-raises (`run.lifecycle`).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable

from mlmax.common import WaitTimeout, wait_until
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
        # The starting thread's context (e.g. where the SDK echoes, `sdk_output_to`).
        self._context = contextvars.copy_context()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with untraced():  # under Debug Test: the SDK's own work, no one steps through it
                self._context.run(self._target_call)
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

"""SIGTERM and SIGHUP unwind like Ctrl-C, so the same clean-up runs for all three.

SIGTERM is what `timeout`, `kill`, CI cancellation and VS Code stopping a task send; SIGHUP
comes when a terminal closes. Python's default for both is to die on the spot, skipping
every `finally`, so containers, compose processes and temp dirs would stay. `Terminated` is
a KeyboardInterrupt, so every place that already cleans up after Ctrl-C cleans up after
these too; the process then exits with the shell's code for the signal (128 + its number).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM or SIGHUP; it unwinds like after Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        """What a shell reports for a process ended by this signal: 143, 129."""
        return 128 + self.signum


def interruption_name(error: BaseException) -> str:
    """'SIGTERM', 'SIGHUP' or 'Ctrl-C': what stopped the run, for records and messages."""
    return signal.Signals(error.signum).name if isinstance(error, Terminated) else "Ctrl-C"


def exit_code_of(error: KeyboardInterrupt) -> int:
    """128 + the signal: 130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP."""
    return error.exit_code if isinstance(error, Terminated) else 128 + signal.SIGINT


class TerminationHandlers:
    """Installs the handlers; remembers the first signal; restores the old handlers on close.

    Only the first signal raises: a second one (a supervisor repeating itself) must not break
    the clean-up the first one started.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            return
        self.received = signum
        raise Terminated(signum)

    def install(self) -> TerminationHandlers:
        # Handlers can only be set from the main thread; elsewhere the defaults stay.
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()


@contextlib.contextmanager
def terminate_like_interrupt() -> Iterator[TerminationHandlers]:
    """For the block, SIGTERM and SIGHUP raise `Terminated` in the main thread."""
    handlers = TerminationHandlers().install()
    try:
        yield handlers
    finally:
        handlers.restore()

"""The one way mlmax waits for something: poll a condition until it holds or a deadline passes.

Every wait in mlmax (a worker thread finishing, a container listening, a server answering,
processes exiting) goes through `wait_until`, so each has a deadline, a poll interval that
is not a guess at how long the thing takes, and the same clear error when time runs out.
`pause` lets a caller sleep on something that wakes early (`Thread.join`, `Event.wait`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The condition did not hold before the deadline; the message names what was awaited."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        super().__init__(f"{what} did not happen within {timeout:g} s")


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float | None,
    what: str,
    interval: float = 0.1,
    pause: Callable[[float], object] = time.sleep,
) -> T:
    """Call `condition` until it returns something truthy, and return that.

    `timeout` None waits for ever; otherwise WaitTimeout once `timeout` seconds have passed
    (the condition is always asked at least once). Between calls, `pause(seconds)` gets the
    interval, cut to what is left before the deadline.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise WaitTimeout(what, float(timeout or 0))
        pause(interval if remaining is None else min(interval, remaining))

"""mlmax.common.waiting.wait_until: the one wait helper, without clocks in the assertions."""

from __future__ import annotations

import threading

import pytest

from mlmax.common.waiting import WaitTimeout, wait_until


def test_returns_the_first_truthy_answer_and_pauses_between_tries():
    answers = iter([None, 0, "", "ready"])
    pauses: list[float] = []
    result = wait_until(
        lambda: next(answers), timeout=None, what="x", interval=0.25, pause=pauses.append
    )
    assert result == "ready"
    assert pauses == [0.25, 0.25, 0.25]


def test_asks_once_even_with_no_time_left_and_names_what_it_waited_for():
    calls: list[int] = []

    def never() -> bool:
        calls.append(1)
        return False

    with pytest.raises(WaitTimeout, match=r"^the container's start did not happen within 0 s$"):
        wait_until(never, timeout=0, what="the container's start", pause=lambda _s: None)
    assert calls == [1]


def test_the_pause_never_outlasts_the_deadline():
    pauses: list[float] = []
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: False, timeout=0.05, what="w", interval=10.0, pause=pauses.append)
    assert pauses and all(p <= 0.05 for p in pauses)
    assert raised.value.timeout == 0.05 and raised.value.what == "w"


def test_a_pause_that_wakes_early_ends_the_wait_at_once():
    done = threading.Event()
    worker = threading.Thread(target=done.set)
    worker.start()
    # Thread.join as the pause: it returns as soon as the thread ends, whatever the interval.
    assert wait_until(
        done.is_set, timeout=None, what="the worker", interval=60.0, pause=worker.join
    )

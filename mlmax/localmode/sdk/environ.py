"""Process environment changes that are undone afterwards, safe when runs overlap in threads.

The SDK and boto read some settings only from the environment (config-file overrides for
telemetry, credential and config file locations) and the SDK itself sets
COMPOSE_HTTP_TIMEOUT for good. Runs pin what they need inside `scoped_environ`, and the
previous values come back when the last overlapping scope ends, so nothing leaks into the
rest of a pytest session or a caller's process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_active: dict[str, str | None] = {}
_saved: dict[str, str | None] = {}


class EnvironmentConflictError(RuntimeError):
    """Two overlapping scopes asked for different values of the same variable."""


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def scoped_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (str) or unset (None) variables for the duration of the block.

    Overlapping scopes (parallel runs in threads) must agree on shared variables; the
    original values are restored when the outermost scope ends.
    """
    global _depth
    with _lock:
        for name, value in values.items():
            if name in _active and _active[name] != value:
                raise EnvironmentConflictError(
                    f"environment variable {name} is pinned to {_active[name]!r} by a running "
                    f"job and cannot be {value!r} at the same time; run these jobs one by one"
                )
        for name in values:
            if name not in _saved:
                _saved[name] = os.environ.get(name)
        _active.update(values)
        _depth += 1
        _apply(values)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _apply(_saved)
                _saved.clear()
                _active.clear()

"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.network_guard import fail_on, guarded_network


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[list[str]]:
    """No test reaches the network beyond 127.0.0.0/8 (local sockets are fine)."""
    with guarded_network() as violations:
        yield violations
    fail_on(violations)

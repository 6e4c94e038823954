"""Suite-wide fixtures and hooks."""

from __future__ import annotations

# The network guard, on for the whole session: no test and no fixture of any scope reaches
# beyond 127.0.0.0/8 (local sockets are fine).
from tests.network_guard import (  # noqa: F401
    network_guard,
    pytest_sessionfinish,
    pytest_sessionstart,
)

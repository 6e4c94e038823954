"""Suite-wide fixtures and hooks."""

from __future__ import annotations

import signal

import pytest

from mlmax.pytest_plugin.session import MARKER, local_mode_session

# The network guard, on for the whole session: no test and no fixture of any scope reaches
# beyond 127.0.0.0/8 (local sockets are fine).
from tests.support.network_guard import (  # noqa: F401
    network_guard,
    pytest_sessionfinish,
    pytest_sessionstart,
)
from tests.support.phase_timings import pytest_terminal_summary  # noqa: F401
from tests.support.xdist_groups import order_for_two_workers


def pytest_configure(config: object) -> None:
    # Tests press Ctrl-C on the commands they start, as a terminal would. A suite started in
    # the background by a script (`pytest ... &`) inherits SIGINT ignored, and every command it
    # starts would ignore Ctrl-C too: give them a terminal's default back (a Python handler
    # becomes the default disposition in a child after exec; an ignored signal stays ignored).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# tryfirst: the group marks must be in place before xdist's own hook reads them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order_for_two_workers(items)


@pytest.hookimpl(tryfirst=True)  # before any fixture: a module fixture may need Docker too
def pytest_runtest_setup(item: pytest.Item) -> None:
    # A container test's own helpers need Docker as well (docker calls, probes as another
    # user, subprocesses): the plugin's check comes first, so that with Docker unusable each
    # fails with the plugin's one sentence, not with whatever its helper raises.
    session = local_mode_session(item.config)  # there only with --smlocal
    if session is not None and item.get_closest_marker(MARKER) is not None:
        session.image()

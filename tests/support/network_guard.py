"""A guard that fails any test opening a network connection outside loopback.

mlmax runs offline: the SDK's calls go to the embedded S3 server on 127.0.0.1, the Docker SDK
to the engine's socket. The guard records a refused address even when the code under test
swallowed the error (the SDK's telemetry thread does), so the test still fails. It covers
this process for the whole session, fixtures of every scope included; containers and
subprocesses are kept offline by their own configuration.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest


def _allowed(family: int, address: Any) -> bool:
    if family == socket.AF_UNIX:
        return True  # a local socket (the Docker engine's, a test's own): not the network
    host = address[0] if isinstance(address, tuple) else address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    # An IPv6 socket reaches IPv4's loopback as ::ffff:127.0.0.1: still this machine.
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


@contextlib.contextmanager
def guarded_network() -> Iterator[list[str]]:
    """Refuse every connection outside 127.0.0.0/8, ::1 and local sockets; yields the
    refused addresses so a caller can fail even when the code swallowed the error."""
    violations: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if not _allowed(sock.family, address):
            violations.append(repr(address))
            raise ConnectionRefusedError(f"network guard: no connections to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield violations


def fail_on(violations: list[str]) -> None:
    if violations:
        pytest.fail(f"the test tried to reach the network: {', '.join(violations)}")


# -- the whole session (a pytest plugin: tests/conftest.py imports these hooks) -------------
# Session- and module-scoped fixtures (the container chain, the runner parity runs, the local
# pipeline) run before any function-scoped fixture, so the guard is on from session start to
# session end. Each test answers for what was refused since the previous test's check, which
# includes the higher-scoped fixtures its set-up started.
_session: contextlib.ExitStack | None = None
_violations: list[str] = []
_checked = 0


def pytest_sessionstart(session: pytest.Session) -> None:
    global _session, _violations, _checked
    _session = contextlib.ExitStack()
    _violations = _session.enter_context(guarded_network())
    _checked = 0


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    global _session, _checked
    late = _violations[_checked:]  # refused during the teardown of higher-scoped fixtures
    if _session is not None:
        _session.close()
        _session = None
    _checked = 0
    if late:
        print(f"\nnetwork guard: the session tried to reach the network: {', '.join(late)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[list[str]]:
    """No test, nor a fixture it starts at any scope, reaches beyond 127.0.0.0/8."""
    global _checked
    # The fixture comes with this module's session hooks (tests/conftest.py imports all three,
    # `-p tests.support.network_guard` registers the module): the session's guard is already on.
    assert _session is not None, "tests.support.network_guard's session hooks are not registered"
    yield _violations
    new, _checked = _violations[_checked:], len(_violations)
    fail_on(new)

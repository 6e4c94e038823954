"""A guard that fails any test opening a network connection outside loopback.

mlmax runs offline: the SDK's calls go to the embedded S3 server on 127.0.0.1, the Docker SDK
to the engine's socket. The guard records a refused address even when the code under test
swallowed the error (the SDK's telemetry thread does), so the test still fails. It covers
this process; containers and subprocesses are kept offline by their own configuration.
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
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


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


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[list[str]]:
    with guarded_network() as violations:
        yield violations
    fail_on(violations)

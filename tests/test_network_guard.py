"""The suite-wide network guard refuses non-loopback connections before any packet leaves."""

from __future__ import annotations

import socket

import pytest

from tests.network_guard import guarded_network


def test_a_connection_beyond_loopback_is_refused_and_recorded() -> None:
    with guarded_network() as violations:
        # 192.0.2.0/24 is reserved for documentation: refused before connect() is attempted.
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("192.0.2.1", 443))
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect_ex(("192.0.2.1", 443))
    assert violations == ["('192.0.2.1', 443)", "('192.0.2.1', 443)"]


def test_loopback_connections_pass() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with guarded_network() as violations, socket.socket() as client:
            client.connect(server.getsockname())
        assert violations == []

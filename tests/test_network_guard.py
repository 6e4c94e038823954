"""The suite-wide network guard refuses non-loopback connections before any packet leaves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.network_guard import guarded_network


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


SESSION_FIXTURE_TEST = """
import socket
import pytest

@pytest.fixture(scope="session")
def reaches_out():
    # Swallows the refusal, as the SDK's telemetry thread does: the guard must still fail.
    try:
        socket.create_connection(("192.0.2.1", 443), timeout=1).close()
    except OSError:
        pass
    return "done"

def test_uses_a_session_fixture(reaches_out):
    assert reaches_out == "done"
"""


def test_a_session_fixtures_connection_beyond_loopback_fails_the_test(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(SESSION_FIXTURE_TEST)
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.support.network_guard",
         "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(tmp_path), "-q",
         str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    output = inner.stdout + inner.stderr
    assert inner.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "the test tried to reach the network: ('192.0.2.1', 443)" in output

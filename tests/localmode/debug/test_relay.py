"""The host-loopback forward into a container's loopback, against a real container."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.request

import pytest

from mlmax.common.waiting import wait_until
from mlmax.localmode.debug import relay as port_forward
from mlmax.localmode.debug.errors import InspectError
from mlmax.localmode.debug.forward import open_forward
from mlmax.localmode.debug.relay import PortForward, socket_owner
from mlmax.localmode.engine import containers, labels
from tests.support.isolation import PROBE
from tests.support.other_user import checkout_reachable, local_user

PORT = 8000  # inside the container, on its loopback only


@pytest.fixture
def loopback_server(sm_image):
    """A container serving HTTP on ITS 127.0.0.1:8000 only."""
    run_labels = labels.current_session().for_run("forward", labels.new_run_id("forward"))
    container = containers.docker_client().containers.run(
        sm_image,
        ["python3", "-m", "http.server", "--bind", "127.0.0.1", str(PORT)],
        labels=run_labels,
        detach=True,
    )
    try:
        wait_until(lambda: b"Serving HTTP" in container.logs(), timeout=60, what="the HTTP server")
        yield container
    finally:
        containers.remove_containers([container])


def _get(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as response:
        return response.read()


@pytest.mark.smlocal
def test_forward_relays_each_connection_into_the_containers_loopback(loopback_server):
    with PortForward(0, PORT) as forward:
        assert forward.port != 0
        early: list[bytes] = []
        # A client that connects before the service is ready waits instead of failing.
        waiting = threading.Thread(target=lambda: early.append(_get(forward.port)))
        waiting.start()
        forward.target(loopback_server)
        forward.set_ready()
        waiting.join(60)
        assert early and b"Directory listing" in early[0]
        for _ in range(3):  # each connection gets its own relay
            assert b"Directory listing" in _get(forward.port)
        assert forward.connections == 4
    # Closed: nothing listens on the port any more.
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", forward.port)),
    ):
        pass


@pytest.mark.smlocal
def test_the_service_is_not_reachable_at_the_containers_address(loopback_server):
    loopback_server.reload()
    [settings] = loopback_server.attrs["NetworkSettings"]["Networks"].values()
    seen = containers.docker_client().containers.run(
        loopback_server.attrs["Config"]["Image"],
        ["python3", "-c", PROBE, settings["IPAddress"], str(PORT)],
        labels=labels.current_session().for_run("probe", labels.new_run_id("probe")),
        remove=True,
    )
    assert seen.decode().strip() == "refused"


def test_a_busy_port_fails_to_bind():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(OSError):
            PortForward(holder.getsockname()[1], PORT)


def _accepted(listener: socket.socket, client: socket.socket) -> tuple[tuple, tuple]:
    """(the client's address, the listener's) as the accepting side sees them."""
    accepted, address = listener.accept()
    with accepted:
        return address, accepted.getsockname()


def test_the_socket_table_names_the_owner_of_a_live_client_only():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as client:
            address, local = _accepted(listener, client)
            assert socket_owner(address, local) == os.geteuid()
        # Closed, the client's row has no owner any more (the table says uid 0): unknown.
        assert socket_owner(address, local) is None
        # A client over IPv6 reaching the IPv4 listener (an IPv4-mapped address, in tcp6).
        with socket.socket(socket.AF_INET6) as client6:
            client6.connect(("::ffff:127.0.0.1", listener.getsockname()[1]))
            address, local = _accepted(listener, client6)
            assert socket_owner(address, local) == os.geteuid()


OTHER_CLIENT = """\
import socket, sys
client = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
sys.stdin.read()  # holds the connection until the test is done with it
"""


def test_the_socket_table_names_another_users_client():
    other = local_user("mlmax-test-other")
    with socket.socket() as listener, checkout_reachable():
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        command = other.command(sys.executable, "-c", OTHER_CLIENT, str(listener.getsockname()[1]))
        with subprocess.Popen(
            command, env=other.environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, cwd="/",
        ) as client:  # fmt: skip
            assert client.stdout.readline().strip() == "connected"
            accepted, address = listener.accept()
            with accepted:
                assert socket_owner(address, accepted.getsockname()) == other.uid
            client.stdin.close()


def test_a_client_whose_owner_cannot_be_read_is_closed_unrelayed(tmp_path, monkeypatch, caplog):
    # A system whose socket table lists nobody (as if it had none): every client is unknown.
    empty = tmp_path / "tcp"
    empty.write_text("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when\n")
    monkeypatch.setattr(port_forward, "SOCKET_TABLES", (empty,))
    with PortForward(0, PORT) as forward:
        forward.set_ready()  # no container: a relayed byte would have nowhere to go anyway
        with socket.create_connection(("127.0.0.1", forward.port), timeout=30) as client:
            assert client.recv(1) == b""  # closed by the forward, nothing sent
        wait_until(lambda: forward.refused == 1, timeout=30, what="the refusal")
    assert "from a user that could not be identified" in caplog.text


def test_without_a_socket_table_no_debug_port_is_opened(tmp_path, monkeypatch):
    monkeypatch.setattr(port_forward, "SOCKET_TABLES", (tmp_path / "none",))
    with pytest.raises(InspectError, match="no socket table"):
        open_forward(0)

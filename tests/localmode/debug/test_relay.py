"""The host-loopback forward into a container's loopback, against a real container."""

from __future__ import annotations

import socket
import threading
import urllib.request

import pytest

from mlmax.common.waiting import wait_until
from mlmax.localmode.debug.relay import PortForward
from mlmax.localmode.engine import containers, labels
from tests.support.isolation import PROBE

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

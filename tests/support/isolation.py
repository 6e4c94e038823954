"""Check that a job's debugger is reachable only through mlmax's forward on the host's loopback.

Two ways in that must fail (issue: a debugpy port runs any code as the job):
- from another container on the job container's Docker network, at the job's IP;
- from the host at the job container's IP (which bypasses any loopback-only publishing).
Both probes run in separate processes (the suite's network guard watches this one) and must
see "connection refused": the address is reachable, nothing listens there.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from mlmax.localmode.debug.command import DEBUGPY_PORT
from mlmax.localmode.engine import containers, labels

PROBE = """\
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10).close()
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as error:
    print("error", error)
"""


def assert_debugger_only_on_loopback_forward(container: Any, published_ok: bool = False) -> None:
    """`published_ok`: other ports may be published (an endpoint's serving port), never
    the debugger's."""
    container.reload()
    bindings = container.attrs["HostConfig"].get("PortBindings") or {}
    if published_ok:
        assert f"{DEBUGPY_PORT}/tcp" not in bindings, f"the debug port is published: {bindings}"
    else:
        assert not bindings, f"a port is published: {bindings}"
    networks = container.attrs["NetworkSettings"]["Networks"]
    assert networks, "the job container is on no network"
    for network, settings in networks.items():
        address = settings["IPAddress"]
        from_host = subprocess.run(
            [sys.executable, "-c", PROBE, address, str(DEBUGPY_PORT)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        assert from_host == "refused", f"host -> {address}:{DEBUGPY_PORT}: {from_host}"
        run_labels = labels.current_session().for_run("isolation-probe", labels.new_run_id("probe"))
        from_neighbour = containers.docker_client().containers.run(
            container.attrs["Config"]["Image"],
            ["python3", "-c", PROBE, address, str(DEBUGPY_PORT)],
            network=network,
            labels=run_labels,
            remove=True,
        )
        text = from_neighbour.decode().strip()
        assert text == "refused", f"container on {network} -> {address}:{DEBUGPY_PORT}: {text}"

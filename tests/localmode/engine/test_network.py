"""The shared sagemaker-local network: created once, even by processes racing for it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlmax.localmode.engine.containers import docker_client
from mlmax.localmode.engine.network import NETWORK_LABELS, NETWORK_NAME, ensure_network

pytestmark = pytest.mark.smlocal

RACE = (
    "from mlmax.localmode.engine.containers import docker_client\n"
    "from mlmax.localmode.engine.network import ensure_network\n"
    "print(ensure_network(docker_client()))\n"
)


def test_parallel_processes_agree_on_one_network():
    racers = [
        subprocess.Popen([sys.executable, "-c", RACE], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    ids = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert all(racer.returncode == 0 for racer in racers)
    networks = [
        n for n in docker_client().networks.list(names=[NETWORK_NAME]) if n.name == NETWORK_NAME
    ]
    assert len(networks) == 1
    assert ids == {networks[0].id}
    assert ensure_network(docker_client()) == networks[0].id


def test_network_carries_the_labels_compose_expects():
    network = docker_client().networks.get(ensure_network(docker_client()))
    labels = network.attrs.get("Labels") or {}
    assert labels.get("com.docker.compose.network") == NETWORK_LABELS["com.docker.compose.network"]

"""The shared `sagemaker-local` Docker network, created once and never raced.

Every compose file the SDK writes declares this network. When two jobs start at once, both
compose processes may create it, leaving two networks with one name, after which every job
fails ("network sagemaker-local is ambiguous") until one is removed by id. So mlmax creates it
itself before any job, under an inter-process file lock, with the labels docker-compose v1
and v2 expect of a network they created, and removes duplicates by id. It is never removed
afterwards: other jobs (and other tools) share it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

NETWORK_NAME = "sagemaker-local"
# Compose v2 refuses a network whose com.docker.compose.network label differs from the
# network's key in the file; v1 ignores com.docker.* labels and warns about any other label,
# so the network carries only compose's own labels.
NETWORK_LABELS = {
    "com.docker.compose.network": NETWORK_NAME,
    "com.docker.compose.project": "mlmax",
}


def lock_path() -> Path:
    """The lock file, outside the temp dir so a run leaves the temp dir as it found it."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mlmax" / "sagemaker-local-network.lock"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new FileLock per call: threads of one process (parallel steps) exclude each other too.
    with FileLock(path):
        yield


def _same_name(client: Any) -> list[Any]:
    # The name filter matches substrings; keep exact matches only.
    found = client.networks.list(filters={"name": NETWORK_NAME})
    return [n for n in found if n.name == NETWORK_NAME]


def ensure_network(client: Any) -> str:
    """Make sure exactly one `sagemaker-local` network exists; return its id."""
    with _locked(lock_path()):
        networks = _same_name(client)
        if not networks:
            network = client.networks.create(
                NETWORK_NAME, driver="bridge", labels=dict(NETWORK_LABELS), check_duplicate=True
            )
            return str(network.id)
        networks.sort(key=lambda n: n.attrs.get("Created", ""))
        keep, duplicates = networks[0], networks[1:]
        for duplicate in duplicates:
            # A duplicate in use by a running job cannot go; the next call heals it.
            with contextlib.suppress(Exception):
                client.api.remove_network(duplicate.id)
        return str(keep.id)

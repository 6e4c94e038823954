"""docker-py without its ssh transport unless the engine is an ssh:// one.

`import docker` loads the ssh transport eagerly, and with it paramiko, cryptography, invoke
and nacl, in every mlmax process that talks to a local socket and has no use for them: a
visible share of a short container job's whole run. docker-py already treats the transport
as optional (it is imported under `try/except ImportError`); the finder installed here makes
that import fail while DOCKER_HOST is not ssh://, so docker-py starts as it would without
paramiko. mlmax's own entry points (the `mlmax` command, the pytest plugin) install it;
importing mlmax does not. `ensure_ssh_transport()` loads the transport after all when
DOCKER_HOST is changed to an ssh engine later in the same process.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType

_TRANSPORT = "docker.transport.sshconn"


def _ssh_engine() -> bool:
    return os.environ.get("DOCKER_HOST", "").startswith("ssh://")


class _Skipped(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        # docker.transport catches this and leaves SSHHTTPAdapter undefined.
        raise ImportError(f"{_TRANSPORT} is loaded only for an ssh:// DOCKER_HOST")


class _SkipSshTransport(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TRANSPORT or _ssh_engine():
            return None
        return importlib.machinery.ModuleSpec(fullname, _Skipped())


def skip_ssh_transport() -> None:
    """Skip the ssh transport in docker-py imports from now on (idempotent; takes effect only
    if docker-py has not been imported yet)."""
    if not any(isinstance(finder, _SkipSshTransport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SkipSshTransport())


def ensure_ssh_transport() -> None:
    """Give docker-py its ssh transport when DOCKER_HOST names an ssh:// engine."""
    client_module = sys.modules.get("docker.api.client")
    if not _ssh_engine() or client_module is None or hasattr(client_module, "SSHHTTPAdapter"):
        return
    adapter = importlib.import_module(_TRANSPORT).SSHHTTPAdapter
    # docker-py looks the name up in these modules when it connects.
    client_module.SSHHTTPAdapter = adapter  # type: ignore[attr-defined]
    sys.modules["docker.transport"].SSHHTTPAdapter = adapter  # type: ignore[attr-defined]

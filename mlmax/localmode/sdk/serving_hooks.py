"""Three changes to the SDK's Local Mode hosting path, on private names of the SDK.

The SDK hosts a model with `LocalSession.sagemaker_client.create_endpoint`, which runs the
container through docker-compose and then waits for it. mlmax changes three things there:

1. **Loopback only.** `sagemaker.core.local.image._SageMakerContainer._create_docker_host`
   publishes the serving port as `PORT:8080`, i.e. on every interface, after merging the
   session's `container_config`, whose `ports` it replaces (so the config cannot fix it).
   The wrapper rewrites it to `127.0.0.1:PORT:8080` for mlmax's containers (those carrying
   the session label); a debugger reaches an endpoint through a forward, never a port.
2. **Readiness.** `sagemaker.core.local.entities._wait_for_serving_container(serving_port,
   timeout)` polls /ping every 5 s for up to 120 s and cannot see a container that died.
   For a port an mlmax endpoint registered, the replacement hands over to mlmax's own
   watcher (see `endpoint.hosting`); any other caller gets the SDK's function unchanged.
3. **Quiet.** `_HostingContainer.run` echoes compose's output to stdout (including the
   server's own "listening on 0.0.0.0:8080", which is not where the host reaches it) and
   raises in its thread when compose ends with a non-zero code (a model that fails to load,
   or mlmax stopping the endpoint), which prints a thread traceback. For mlmax's endpoints
   it runs compose without the echo and keeps the exit code instead: mlmax watches the
   container itself and reports a failure with its log tail.

The three SDK names are reached through `mlmax.localmode.sdk.internals`, which pins their
names and shapes: an SDK upgrade that changes them fails tests/localmode/sdk/test_internals.py
(and `install_serving_hooks()` raises `SdkHookError`) instead of silently publishing on every
interface.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from typing import Any

from mlmax.localmode.engine import SESSION
from mlmax.localmode.sdk import internals as sdk_internals

_MARK = "_mlmax_serving"
_lock = threading.Lock()
# serving port -> the function that blocks until the endpoint is ready (or raises).
_waiters: dict[int, Callable[[], None]] = {}
# Markers (run directories) of mlmax's endpoints.
_managed: set[str] = set()
LOOPBACK = "127.0.0.1"
CONTAINER_PORT = "8080"


def loopback_ports(ports: list[str]) -> list[str]:
    """`PORT:8080` -> `127.0.0.1:PORT:8080`; other mappings are kept as they are."""
    bound = []
    for mapping in ports:
        parts = str(mapping).split(":")
        if len(parts) == 2 and parts[1] == CONTAINER_PORT:
            bound.append(f"{LOOPBACK}:{parts[0]}:{CONTAINER_PORT}")
        else:
            bound.append(str(mapping))
    return bound


def _loopback_only(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_docker_host(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        service = original(self, *args, **kwargs)
        if SESSION in (service.get("labels") or {}) and service.get("ports"):
            service = {**service, "ports": loopback_ports(service["ports"])}
        return service

    return create_docker_host


def _registered_waiter(original: Callable[..., Any]) -> Callable[..., Any]:
    def wait_for_serving_container(serving_port: Any, *args: Any, **kwargs: Any) -> None:
        with _lock:
            waiter = _waiters.get(int(serving_port))
        if waiter is None:
            return original(serving_port, *args, **kwargs)
        return waiter()

    return wait_for_serving_container


def _quiet_run(self: Any) -> None:
    # The SDK's body of the thread without echoing compose's output to our stdout, and
    # without raising when compose ends non-zero: mlmax watches the container itself and
    # reports its exit with the log tail; a raise here would only print a thread traceback.
    self.process = subprocess.Popen(
        self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    self.exit_code = self.process.wait()


def _quiet_when_managed(original: Callable[..., Any]) -> Callable[..., Any]:
    def run(self: Any) -> None:
        command = " ".join(map(str, getattr(self, "command", None) or []))
        with _lock:
            managed = any(marker in command for marker in _managed)
        if managed:
            _quiet_run(self)
            return
        original(self)

    return run


def install_serving_hooks() -> None:
    """Apply the three changes (idempotent); SdkHookError if the SDK changed."""
    sdk_internals.wrap(sdk_internals.PROCESSING_DOCKER_HOST, _loopback_only, mark=_MARK)
    sdk_internals.wrap(sdk_internals.WAIT_FOR_SERVING, _registered_waiter, mark=_MARK)
    sdk_internals.wrap(sdk_internals.HOSTING_RUN, _quiet_when_managed, mark=_MARK)


def register_ready_waiter(port: int, waiter: Callable[[], None]) -> None:
    """The SDK's health check of `port` calls `waiter` instead of polling every 5 s."""
    with _lock:
        _waiters[port] = waiter


def manage_endpoint(marker: str) -> None:
    """The compose process whose command mentions `marker` is an mlmax endpoint's: run it
    without echoing compose's output."""
    with _lock:
        _managed.add(marker)


def forget_endpoint(port: int, marker: str) -> None:
    with _lock:
        _waiters.pop(port, None)
        _managed.discard(marker)

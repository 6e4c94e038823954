"""Three changes to the SDK's Local Mode hosting path, on private names of the SDK.

The SDK hosts a model with `LocalSession.sagemaker_client.create_endpoint`, which runs the
container through docker-compose and then waits for it. mlmax changes three things there:

1. **Loopback only.** `sagemaker.core.local.image._SageMakerContainer._create_docker_host`
   publishes the serving port as `PORT:8080`, i.e. on every interface, after merging the
   session's `container_config`, whose `ports` it replaces (so the config cannot fix it and
   a debug port is lost). The wrapper rewrites it to `127.0.0.1:PORT:8080` for mlmax's
   containers (those carrying the session label) and puts the configured ports back.
2. **Readiness.** `sagemaker.core.local.entities._wait_for_serving_container(serving_port,
   timeout)` polls /ping every 5 s for up to 120 s and cannot see a container that died.
   For a port an mlmax endpoint registered, the replacement hands over to mlmax's own
   watcher (see `endpoint.py`); any other caller gets the SDK's function unchanged.
3. **Quiet.** `_HostingContainer.run` echoes compose's output to stdout (including the
   server's own "listening on 0.0.0.0:8080", which is not where the host reaches it) and
   raises in its thread when compose ends with a non-zero code (a model that fails to load,
   or mlmax stopping the endpoint), which prints a thread traceback. For mlmax's endpoints
   it runs compose without the echo and keeps the exit code instead: mlmax watches the
   container itself and reports a failure with its log tail.

tests/localmode/test_serving_hooks.py pins all three names and shapes: an SDK upgrade that
changes them fails that test (and `install()` raises `ServingHookError`) instead of silently
publishing on every interface.
"""

from __future__ import annotations

import functools
import inspect
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from mlmax.localmode import labels

_MARK = "_mlmax_wrapped"
_lock = threading.Lock()
# serving port -> the function that blocks until the endpoint is ready (or raises).
_waiters: dict[int, Callable[[], None]] = {}
# Markers (run directories) of mlmax's endpoints.
_managed: set[str] = set()
LOOPBACK = "127.0.0.1"
CONTAINER_PORT = "8080"


class ServingHookError(RuntimeError):
    """The SDK no longer has the private names mlmax changes."""


def _unsupported(what: str) -> ServingHookError:
    return ServingHookError(
        f"{what} is gone from the SageMaker SDK or has changed shape; mlmax cannot keep "
        "endpoints on 127.0.0.1 with this SDK version (pin sagemaker>=3.27,<4)"
    )


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


def _patch_create_docker_host(container_class: type) -> None:
    original = getattr(container_class, "_create_docker_host", None)
    if original is None:
        raise _unsupported("_SageMakerContainer._create_docker_host")
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def create_docker_host(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        service = original(self, *args, **kwargs)
        if labels.SESSION in (service.get("labels") or {}) and service.get("ports"):
            # The SDK replaced container_config's ports (a debug port) with its own: keep both.
            local = (getattr(self.sagemaker_session, "config", None) or {}).get("local") or {}
            configured = (local.get("container_config") or {}).get("ports") or []
            ports = loopback_ports(service["ports"])
            service = {**service, "ports": ports + [p for p in configured if p not in ports]}
        return service

    setattr(create_docker_host, _MARK, True)
    container_class._create_docker_host = create_docker_host


def _patch_wait(entities: Any) -> None:
    original = getattr(entities, "_wait_for_serving_container", None)
    if original is None:
        raise _unsupported("sagemaker.core.local.entities._wait_for_serving_container")
    if getattr(original, _MARK, False):
        return
    if list(inspect.signature(original).parameters)[:2] != ["serving_port", "timeout"]:
        raise _unsupported("_wait_for_serving_container(serving_port, timeout)")

    @functools.wraps(original)
    def wait_for_serving_container(serving_port: Any, *args: Any, **kwargs: Any) -> None:
        with _lock:
            waiter = _waiters.get(int(serving_port))
        if waiter is None:
            return original(serving_port, *args, **kwargs)
        return waiter()

    setattr(wait_for_serving_container, _MARK, True)
    entities._wait_for_serving_container = wait_for_serving_container


def _quiet_run(self: Any) -> None:
    # The SDK's body of the thread without echoing compose's output to our stdout, and
    # without raising when compose ends non-zero: mlmax watches the container itself and
    # reports its exit with the log tail; a raise here would only print a thread traceback.
    self.process = subprocess.Popen(
        self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    self.exit_code = self.process.wait()


def _patch_hosting_run(hosting_class: type) -> None:
    original = getattr(hosting_class, "run", None)
    if original is None or getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def run(self: Any) -> None:
        command = " ".join(map(str, getattr(self, "command", None) or []))
        with _lock:
            managed = any(marker in command for marker in _managed)
        if managed:
            _quiet_run(self)
            return
        original(self)

    setattr(run, _MARK, True)
    hosting_class.run = run


def install() -> None:
    """Apply the three changes (idempotent); ServingHookError if the SDK changed."""
    try:
        from sagemaker.core.local import entities, image
    except ImportError as error:  # pragma: no cover - depends on the SDK
        raise _unsupported("sagemaker.core.local.entities / image") from error
    container_class = getattr(image, "_SageMakerContainer", None)
    hosting_class = getattr(image, "_HostingContainer", None)
    if container_class is None or hosting_class is None:
        raise _unsupported("sagemaker.core.local.image._SageMakerContainer/_HostingContainer")
    with _lock:
        _patch_create_docker_host(container_class)
        _patch_wait(entities)
        _patch_hosting_run(hosting_class)


def register_waiter(port: int, waiter: Callable[[], None]) -> None:
    """The SDK's health check of `port` calls `waiter` instead of polling every 5 s."""
    with _lock:
        _waiters[port] = waiter


def manage(marker: str) -> None:
    """The compose process whose command mentions `marker` is an mlmax endpoint's: run it
    without echoing compose's output."""
    with _lock:
        _managed.add(marker)


def forget(port: int, marker: str) -> None:
    with _lock:
        _waiters.pop(port, None)
        _managed.discard(marker)

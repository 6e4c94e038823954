"""Labels, the user, extra mounts (and a debug port) for ModelTrainer's Local Mode containers.

`ModelTrainer` ignores the session's `local.container_config`, so its compose services carry
no labels, always run as the image's user and cannot publish a port. mlmax wraps the SDK's
private `_LocalContainer._create_docker_host` once per process (through
`mlmax.localmode.sdk.internals`, which pins it) and adds the settings registered for the trainer's
container root.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlmax.localmode.sdk import internals as sdk_internals

_MARK = "_mlmax_trainer_config"
_lock = threading.Lock()
_extra_by_root: dict[str, dict[str, Any]] = {}
# Registered with container_root=None: trainers under any root not registered on its own
# (a test's own ModelTrainer through `sm_session`, wherever its local_container_root is).
ANY_ROOT = "*"


def _key(root: str | Path) -> str:
    return os.path.realpath(str(root))


def _merge(service: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(service)
    labels = {**(merged.get("labels") or {}), **extra.get("labels", {})}
    if labels:
        merged["labels"] = labels
    for key in ("ports", "volumes"):
        values = [*(merged.get(key) or []), *extra.get(key, [])]
        if values:
            merged[key] = values
    if extra.get("user"):
        merged["user"] = extra["user"]
    return merged


def _with_extra_config(original: Any) -> Any:
    def create_docker_host(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        service = original(self, *args, **kwargs)
        extra = _extra_by_root.get(_key(self.container_root)) or _extra_by_root.get(ANY_ROOT)
        return _merge(service, extra) if extra else service

    return create_docker_host


def install() -> None:
    """Wrap `_LocalContainer._create_docker_host` (idempotent; SdkHookError if the SDK
    changed it)."""
    sdk_internals.wrap(sdk_internals.TRAINING_DOCKER_HOST, _with_extra_config, mark=_MARK)


@contextlib.contextmanager
def extra_service_config(
    container_root: Path | None,
    *,
    labels: dict[str, str],
    ports: list[str] | None = None,
    user: str | None = None,
    volumes: list[str] | None = None,
) -> Iterator[None]:
    """Add `labels`, `ports` and `volumes` to the compose services of trainers using
    `container_root` (None: any root no other registration names), and run them as `user`
    (compose's "uid:gid") when given."""
    install()
    key = ANY_ROOT if container_root is None else _key(container_root)
    with _lock:
        _extra_by_root[key] = {
            "labels": dict(labels),
            "ports": list(ports or []),
            "volumes": list(volumes or []),
            "user": user,
        }
    try:
        yield
    finally:
        with _lock:
            _extra_by_root.pop(key, None)

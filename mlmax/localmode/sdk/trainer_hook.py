"""Labels, the user and extra mounts for ModelTrainer's Local Mode containers.

`ModelTrainer` ignores the session's `local.container_config`, so its compose services carry
no labels, always run as the image's user and cannot publish a port. mlmax wraps the SDK's
private `_LocalContainer._create_docker_host` (`install_sdk_hooks`, through
`mlmax.localmode.sdk.internals`, which pins it) and adds the settings registered for the trainer's
container root.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
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
    volumes = [*(merged.get("volumes") or []), *extra.get("volumes", [])]
    if volumes:
        merged["volumes"] = volumes
    if extra.get("user"):
        merged["user"] = extra["user"]
    merged.update(extra.get("limits", {}))
    return merged


def _with_extra_config(original: Any) -> Any:
    def create_docker_host(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        service = original(self, *args, **kwargs)
        extra = _extra_by_root.get(_key(self.container_root)) or _extra_by_root.get(ANY_ROOT)
        return _merge(service, extra) if extra else service

    return create_docker_host


def add_extra_service_config() -> None:
    """Wrap `_LocalContainer._create_docker_host` (idempotent; SdkHookError if the SDK
    changed it)."""
    sdk_internals.wrap(sdk_internals.TRAINING_DOCKER_HOST, _with_extra_config, mark=_MARK)


@contextlib.contextmanager
def extra_service_config(
    container_root: Path | None,
    *,
    labels: dict[str, str],
    user: str | None = None,
    volumes: list[str] | None = None,
    limits: Mapping[str, int] | None = None,
) -> Iterator[None]:
    """Add `labels` and `volumes` to the compose services of trainers using
    `container_root` (None: any root no other registration names), run them as `user`
    (compose's "uid:gid") when given, and with `limits` (compose's mem_limit, ...). The
    trainers' containers get them once the hooks are installed (`install_sdk_hooks`, which
    every offline session's SDK session does)."""
    key = ANY_ROOT if container_root is None else _key(container_root)
    with _lock:
        _extra_by_root[key] = {
            "labels": dict(labels),
            "volumes": list(volumes or []),
            "user": user,
            "limits": dict(limits or {}),
        }
    try:
        yield
    finally:
        with _lock:
            _extra_by_root.pop(key, None)

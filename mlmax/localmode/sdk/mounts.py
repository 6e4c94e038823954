"""Create every bind-mount source before compose does, so it belongs to the calling user.

The SDK mounts some host directories it never creates (a training job's `model/` under its
container root). The Docker engine then creates them, as root, and a job running as the
calling user (`engine.users`) cannot write its model there, nor can the user delete the
directory afterwards. mlmax wraps the SDK's private `_create_docker_host` of both Local Mode
container classes (`install_sdk_hooks`, through `mlmax.localmode.sdk.internals`, which pins
them) and creates the missing sources first, as the caller.
"""

from __future__ import annotations

import os
from typing import Any

from mlmax.localmode.sdk import internals as sdk_internals

_MARK = "_mlmax_mount_sources"


def create_missing_sources(service: dict[str, Any]) -> None:
    """mkdir the host side of each `source:target[:mode]` volume that does not exist yet."""
    for volume in service.get("volumes") or []:
        source = str(volume).split(":", 1)[0]
        if os.path.isabs(source) and not os.path.lexists(source):
            os.makedirs(source, exist_ok=True)


def _creating_sources(original: Any) -> Any:
    def create_docker_host(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        service = original(self, *args, **kwargs)
        create_missing_sources(service)
        return service

    return create_docker_host


def create_mount_sources_first() -> None:
    """Wrap both Local Mode container classes (idempotent)."""
    for hook in (sdk_internals.PROCESSING_DOCKER_HOST, sdk_internals.TRAINING_DOCKER_HOST):
        sdk_internals.wrap(hook, _creating_sources, mark=_MARK)

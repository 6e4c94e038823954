"""Create every bind-mount source before compose does, so it belongs to the calling user.

The SDK mounts some host directories it never creates (a training job's `model/` under its
container root). The Docker engine then creates them, as root, and a job running as the
calling user (`container_user.py`) cannot write its model there, nor can the user delete the
directory afterwards. mlmax wraps the SDK's private `_create_docker_host` of both Local Mode
container classes once per process and creates the missing sources first, as the caller.
tests/localmode/test_sdk_mounts.py pins the private methods wrapped here.
"""

from __future__ import annotations

import functools
import os
from typing import Any

_MARK = "_mlmax_mount_sources"


def create_missing_sources(service: dict[str, Any]) -> None:
    """mkdir the host side of each `source:target[:mode]` volume that does not exist yet."""
    for volume in service.get("volumes") or []:
        source = str(volume).split(":", 1)[0]
        if os.path.isabs(source) and not os.path.lexists(source):
            os.makedirs(source, exist_ok=True)


def _wrap(container_class: type) -> None:
    original = container_class.__dict__["_create_docker_host"]
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def create_docker_host(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        service = original(self, *args, **kwargs)
        create_missing_sources(service)
        return service

    setattr(create_docker_host, _MARK, True)
    # type.__setattr__: pydantic's metaclass treats underscore names as private fields.
    type.__setattr__(container_class, "_create_docker_host", create_docker_host)


def create_mount_sources_first() -> None:
    """Wrap both Local Mode container classes (idempotent)."""
    from sagemaker.core.local.image import _SageMakerContainer
    from sagemaker.train.local.local_container import _LocalContainer

    for container_class in (_SageMakerContainer, _LocalContainer):
        _wrap(container_class)

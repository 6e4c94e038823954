"""Job containers run as the calling user, so everything they write stays theirs to delete.

A container runs as root unless told otherwise, and on an ordinary engine root inside is
root outside: a non-root user in the docker group would be left with root-owned model files
in their own temp directory, which neither mlmax's clean-up nor the user can remove. Running
the container as `uid:gid` of the caller makes every file it writes into a bind mount the
caller's. Of the possible fixes this is the one that needs nothing after the job (no chown
pass in an extra container, which an interrupted run would skip) and matches how the files
are used: the host reads them back.

Not done for root (nothing to fix, and SageMaker itself runs jobs as root) nor on a rootless
engine, where the container's root already is the calling user and any other uid maps to a
subordinate id the caller cannot delete.

A uid without an entry in the image's /etc/passwd gets HOME=/, which it cannot write: pip's
cache (SageMaker's training driver runs pip for a requirements.txt), the interactive
interpreter's history and matplotlib's cache (in images that have it) would fail or warn, so
such containers get HOME=/tmp.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from mlmax.localmode.engine import containers

# Writable for any uid in every Debian-like image.
HOME_FOR_ANY_USER = "/tmp"


@cache
def _engine_is_rootless() -> bool:
    info = containers.docker_client().info()
    return any("rootless" in option for option in info.get("SecurityOptions") or [])


def container_user() -> str | None:
    """The compose `user` for job containers ("uid:gid"), or None to keep the image's."""
    uid = os.getuid()
    if uid == 0 or _engine_is_rootless():
        return None
    return f"{uid}:{os.getgid()}"


def container_environment() -> dict[str, str]:
    """Variables a container needs to run as `container_user()` (none for the image's user)."""
    return {"HOME": HOME_FOR_ANY_USER} if container_user() else {}


def with_container_user(container_config: dict[str, Any]) -> dict[str, Any]:
    """`container_config` (the SDK's local.container_config) plus the `user` to run as."""
    user = container_user()
    return {**container_config, "user": user} if user else dict(container_config)

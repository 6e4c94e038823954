"""Finding, reading and removing mlmax's containers by label, finding orphans; the image check.

Every container a run starts carries the labels of `labels.py`; removal always goes by
label, so only mlmax's own containers are ever touched on a shared engine.
"""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

from mlmax.localmode.engine import labels, pid_namespaces
from mlmax.localmode.errors import JobSetupError


@cache
def docker_client() -> Any:
    """One Docker SDK client per process (talks to the engine in DOCKER_HOST or the socket)."""
    import docker

    from mlmax.localmode.engine.docker_ssh import ensure_ssh_transport

    ensure_ssh_transport()
    return docker.from_env()


def require_image(image: str) -> None:
    """JobSetupError unless `image` is in the local engine (there is no registry to pull from)."""
    from docker.errors import ImageNotFound

    try:
        docker_client().images.get(image)
    except ImageNotFound:
        raise JobSetupError(
            f"the job image {image!r} is not present in the local Docker engine (there is no "
            "registry to pull it from); build it with `mlmax image build` or choose a local image"
        ) from None


def _by_label(label: str, value: str) -> list[Any]:
    return docker_client().containers.list(
        all=True, filters={"label": f"{label}={value}"}, ignore_removed=True
    )


def run_containers(run_id: str) -> list[Any]:
    """The containers of one job run (running or exited)."""
    return _by_label(labels.RUN, run_id)


def started_since(run_id: str, since: float) -> bool:
    """Whether the engine started a container of `run_id` at or after `since` (epoch s).

    Asked of the engine's event log once a run's containers are gone: a container started
    and then removed by someone else is not one that failed to start. The log is short on a
    busy engine, so False only means no start is on record.
    """
    import time

    events = docker_client().events(
        since=int(since),
        until=int(time.time()) + 1,
        filters={"type": "container", "event": "start", "label": f"{labels.RUN}={run_id}"},
        decode=True,
    )
    try:
        return any(True for _ in events)
    finally:
        events.close()


def session_containers(session_id: str) -> list[Any]:
    """All containers of one session."""
    return _by_label(labels.SESSION, session_id)


def logs_of(containers: list[Any], tail_lines: int | None = None) -> str:
    """The stdout and stderr of the containers, oldest container first."""
    texts = []
    for container in sorted(containers, key=lambda c: c.attrs.get("Created", "")):
        with contextlib.suppress(Exception):
            raw = container.logs(stdout=True, stderr=True, tail=tail_lines or "all")
            texts.append(raw.decode("utf-8", errors="replace").replace("\r\n", "\n"))
    return "".join(texts)


def exit_codes(containers: list[Any]) -> list[int]:
    """Exit codes of the containers that have exited."""
    codes = []
    for container in containers:
        with contextlib.suppress(Exception):
            container.reload()
            state = container.attrs.get("State", {})
            if state.get("Status") in {"exited", "dead"}:
                codes.append(int(state.get("ExitCode", 0)))
    return codes


def oom_killed(containers: list[Any]) -> bool:
    """Whether the engine killed any of the containers for exceeding its memory limit."""
    for container in containers:
        with contextlib.suppress(Exception):
            container.reload()
            if container.attrs.get("State", {}).get("OOMKilled"):
                return True
    return False


def remove_containers(containers: list[Any]) -> int:
    """Force-remove containers (and their anonymous volumes); return how many went."""
    removed = 0
    for container in containers:
        try:
            container.remove(force=True, v=True)
            removed += 1
        except Exception as error:  # already gone is fine; anything else is reported
            # 409 "removal ... already in progress": another thread of this session (a
            # parallel step's own clean-up) is removing it right now; that is gone too.
            going = getattr(error, "status_code", None) == 409 and "in progress" in str(error)
            if getattr(error, "status_code", None) != 404 and not going:
                raise
    return removed


def remove_run(run_id: str) -> int:
    """Remove every container of one run."""
    return remove_containers(run_containers(run_id))


def _owner(container_labels: dict[str, str]) -> labels.Owner | None:
    return labels.Owner.from_json(
        {
            "host": container_labels.get(labels.OWNER_HOST),
            "pid": container_labels.get(labels.OWNER_PID),
            "pid_start": container_labels.get(labels.OWNER_START),
            "boot": container_labels.get(labels.OWNER_BOOT),
        }
    )


def orphans() -> list[Any]:
    """Containers left by mlmax sessions whose process is known to be gone (Owner.liveness).

    Containers of live sessions (other pytest workers, a CLI run, another dev container) are
    not orphans, nor those whose owner cannot be judged from here (`unjudged`).
    """
    # Sparse: the list answer already holds the labels, and inspecting each container would
    # race with other sessions removing theirs (a 404 half-way through the list).
    listed = docker_client().containers.list(
        all=True, sparse=True, filters={"label": labels.SESSION}
    )
    return [c for c in listed if _liveness(c) is pid_namespaces.Liveness.DEAD]


def unjudged() -> list[Any]:
    """Containers of other pid namespaces of this kernel whose owner cannot be seen from here.

    Only the root pid namespace sees every process; from a dev container, what a session
    killed in another one left must be swept from the host.
    """
    listed = docker_client().containers.list(
        all=True, sparse=True, filters={"label": f"{labels.OWNER_BOOT}={pid_namespaces.boot_id()}"}
    )
    return [c for c in listed if _liveness(c) is pid_namespaces.Liveness.UNKNOWN]


def _liveness(container: Any) -> pid_namespaces.Liveness:
    owner = _owner(listed_labels(container))
    if owner is None:
        return pid_namespaces.Liveness.UNKNOWN
    return owner.liveness()


def listed_labels(container: Any) -> dict[str, str]:
    """The labels of a container from a sparse list answer."""
    return dict(container.attrs.get("Labels") or {})


def listed_name(container: Any) -> str:
    """The name of a container from a sparse list answer."""
    names = container.attrs.get("Names") or [container.id[:12]]
    return str(names[0]).lstrip("/")

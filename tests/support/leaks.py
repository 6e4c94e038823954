"""What a run could leave behind, counted before and after (containers, processes, files)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlmax.common.waiting import WaitTimeout, wait_until
from mlmax.localmode.engine import compose, containers, labels


@dataclass(frozen=True)
class Snapshot:
    session_containers: int
    all_container_ids: frozenset[str]
    temp_entries: frozenset[str]
    session_dir_entries: frozenset[str]


def snapshot(temp_dir: Path, session_root: Path) -> Snapshot:
    client = containers.docker_client()
    return Snapshot(
        session_containers=len(containers.session_containers(labels.current_session().session_id)),
        all_container_ids=frozenset(
            c.id for c in client.containers.list(ignore_removed=True, all=True)
        ),
        temp_entries=frozenset(p.name for p in temp_dir.iterdir()),
        session_dir_entries=frozenset(p.name for p in session_root.iterdir()),
    )


# Names the SDK gives Local Mode containers: "<10 chars>-algo-1-<5>" (processing) and
# "<project>_algo-1_1" (training).
SDK_CONTAINER_NAME = re.compile(r"(^[a-z0-9]{10}-algo-\d+-[a-z0-9]{5}$)|(_algo-\d+_\d+$)")


def new_leaked_containers(before: Snapshot) -> list[str]:
    """Containers created since `before` that are ours, or SDK containers with no label.

    The engine is shared (other xdist workers, other tools), so instead of a raw total this
    looks at every new container: one of this session's, or a Local Mode container without
    a session label (one mlmax failed to label), is a leak.
    """
    own = labels.current_session().session_id
    leaked = []
    for container in containers.docker_client().containers.list(ignore_removed=True, all=True):
        if container.id in before.all_container_ids:
            continue
        # Blank: the job image's own (disowned) label, inherited by a container not given one.
        session = (container.labels or {}).get(labels.SESSION)
        unlabelled_sdk = not session and SDK_CONTAINER_NAME.search(container.name)
        if session == own or unlabelled_sdk:
            leaked.append(container.name)
    return leaked


def assert_nothing_left(before: Snapshot, temp_dir: Path, session_root: Path) -> None:
    after = snapshot(temp_dir, session_root)
    assert after.session_containers == before.session_containers == 0, after
    leaked = new_leaked_containers(before)
    assert leaked == [], f"containers left behind: {leaked}"
    assert after.temp_entries == before.temp_entries, sorted(after.temp_entries)
    assert after.session_dir_entries == before.session_dir_entries, after.session_dir_entries
    running = compose.processes_using(session_root)
    assert running == [], f"processes still using the session dir: {running}"


def wait_for(predicate, timeout: float, what: str):
    """Poll `predicate` (mlmax's one wait helper) until it returns a truthy value, which is
    returned; the test fails once `timeout` s pass."""
    try:
        return wait_until(predicate, timeout=timeout, what=what, interval=0.2)
    except WaitTimeout:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


def container_events(event: str, since_ns: int, until_ns: int, **labels_: str) -> list[dict]:
    """The engine's `event` events (create, die, ...) between two `time.time_ns()` readings,
    of containers carrying every label in `labels_` (names with dots: pass a dict with **)."""
    filters = {
        "type": "container",
        "event": event,
        "label": [f"{name}={value}" for name, value in labels_.items()],
    }
    seen = containers.docker_client().events(
        since=since_ns // 10**9, until=until_ns // 10**9 + 1, filters=filters, decode=True
    )
    return [e for e in seen if since_ns <= int(e.get("timeNano", 0)) <= until_ns]

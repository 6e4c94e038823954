"""What SIGKILLed sessions left behind (containers, compose processes, temp dirs), removed.

A SIGKILLed process runs no clean-up. Everything it made carries its owner (container labels,
the owner marker in its temp dir: host and pid namespace, pid, process start time), so the
next session can tell a dead owner from a live one and sweep only the dead one's things. Two
live sessions never sweep each other.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmax.localmode.engine import (
    OWNER_PID,
    docker_client,
    kill_processes,
    listed_labels,
    listed_name,
    orphans,
    remove_containers,
    unjudged,
)
from mlmax.localmode.sdk import TEMP_PREFIX, read_owner_marker, remove_tree, work_dir


@dataclass(frozen=True)
class Leftover:
    """One thing a dead session left: its kind, its name, and the pid that owned it."""

    kind: str  # "container", "temp dir", "run record"
    name: str
    owner_pid: int | None


def temp_roots() -> list[Path]:
    """Where Local Mode makes its temp dirs: the temp root and $MLMAX_WORK_DIR."""
    roots = [Path(tempfile.gettempdir())]
    configured = work_dir()
    if configured is not None and configured not in roots:
        roots.append(configured)
    return roots


# A session's dir sits in a temp root, directly or in pytest's default basetemp there (the
# pytest plugin's session): the only places a later session's sweep looks.
_DEFAULT_BASETEMP = "pytest-of-*/pytest-*"


def is_swept(parent: Path) -> bool:
    """Whether a session dir made in `parent` would be found by the next session's sweep.

    A pytest --basetemp elsewhere is not: the plugin then makes its dir in the temp root, so
    that a SIGKILLed run's dir is still swept.
    """
    parent = parent.resolve()
    for root in (r.resolve() for r in temp_roots()):
        if parent == root:
            return True
        if parent.parent.parent == root and parent.match(_DEFAULT_BASETEMP):
            return True
    return False


def _candidates(root: Path) -> list[Path]:
    patterns = (f"{TEMP_PREFIX}*", f"{_DEFAULT_BASETEMP}/{TEMP_PREFIX}*")
    found: list[Path] = []
    for pattern in patterns:
        try:
            found += [p for p in root.glob(pattern) if p.is_dir()]
        except OSError:
            continue
    return found


def dead_temp_dirs(roots: list[Path] | None = None) -> list[tuple[Path, int]]:
    """Temp dirs whose owner marker names a dead process of this host (with its pid)."""
    dead = []
    for root in temp_roots() if roots is None else roots:
        for candidate in _candidates(root):
            owner = read_owner_marker(candidate)
            if owner is not None and owner.is_dead_here():
                dead.append((candidate, owner.pid))
    return dead


def _engine_reachable() -> bool:
    try:
        docker_client().ping()
    except Exception:  # no engine: nothing of ours can be running in it either
        return False
    return True


def _leftover(container: Any) -> Leftover:
    pid = listed_labels(container).get(OWNER_PID, "")
    return Leftover("container", listed_name(container), int(pid) if pid.isdigit() else None)


def _orphan_containers() -> list[tuple[Any, Leftover]]:
    if not _engine_reachable():
        return []
    return [(container, _leftover(container)) for container in orphans()]


def unjudged_containers() -> list[Leftover]:
    """Containers of sessions in other pid namespaces whose liveness cannot be seen from here."""
    return [_leftover(container) for container in unjudged()] if _engine_reachable() else []


def find_leftovers(roots: list[Path] | None = None) -> list[Leftover]:
    """Everything dead sessions left, without touching it."""
    found = [leftover for _, leftover in _orphan_containers()]
    return found + [Leftover("temp dir", str(p), pid) for p, pid in dead_temp_dirs(roots)]


def reap(roots: list[Path] | None = None) -> list[Leftover]:
    """Remove what dead sessions left: containers, their compose processes and temp dirs."""
    removed = []
    for container, leftover in _orphan_containers():
        remove_containers([container])
        removed.append(leftover)
    return removed + _reap_temp_dirs(roots)


def _reap_temp_dirs(roots: list[Path] | None) -> list[Leftover]:
    removed = []
    for path, pid in dead_temp_dirs(roots):
        kill_processes(path)  # a dead session's compose runs on, re-parented to 1
        try:
            remove_tree(path)
        except FileNotFoundError:  # another session swept it at the same moment
            continue
        removed.append(Leftover("temp dir", str(path), pid))
    return removed


def describe_leftovers(swept: list[Leftover]) -> str:
    """One line: what was swept, counted by kind."""
    counts: dict[str, int] = {}
    for leftover in swept:
        counts[leftover.kind] = counts.get(leftover.kind, 0) + 1
    parts = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in counts.items())
    pids = sorted({str(s.owner_pid) for s in swept if s.owner_pid is not None})
    return f"swept what killed sessions left ({', '.join(pids) or 'unknown pids'}): {parts}"

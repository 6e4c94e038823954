"""Whether a process of another pid namespace is alive, seen from this one.

A pid means something only inside its namespace, and a namespace's inode is reused once the
namespace is gone. From the root pid namespace every process of this kernel is visible in
/proc, each with a link to its namespace: a process is alive when one of them is in its
namespace with its pid (the last of NSpid) and its start time; a namespace none of them is in
is gone. From any other namespace (a dev container) other namespaces cannot be seen at all,
so nothing of theirs can be called dead.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

# The kernel's fixed inode of the initial pid namespace (PROC_PID_INIT_INO).
ROOT_PID_NAMESPACE = "pid:[4026531836]"


class Liveness(enum.Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # its namespace cannot be seen from here


def boot_id() -> str:
    """This kernel's boot id: the same in every namespace and container of this boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def own_namespace() -> str:
    """This process's pid namespace, as /proc names it ("pid:[inode]")."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "pid:unknown"


def sees_all_namespaces() -> bool:
    """True in the root pid namespace: the only place every process's namespace is seen."""
    return own_namespace() == ROOT_PID_NAMESPACE


def _stat_start(entry: Path) -> str | None:
    try:
        return (entry / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _nspid(entry: Path) -> list[int]:
    """The process's pid in each pid namespace it is in, from ours inwards ([] if gone)."""
    try:
        for line in (entry / "status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return [int(pid) for pid in line.split()[1:]]
    except (OSError, ValueError):
        return []
    return []


def _innermost_pid(entry: Path) -> int | None:
    pids = _nspid(entry)
    return pids[-1] if pids else None


def _namespace_depth(entry: Path) -> int:
    return len(_nspid(entry))


def liveness_in(namespace: str, pid: int, pid_start: str) -> Liveness:
    """Whether process `pid` (started at `pid_start`) of pid namespace `namespace` is alive.

    Only decidable from the root pid namespace, and only as a user who may read every
    process's namespace link (root): a link we may not read could be the owner's.
    """
    if not sees_all_namespaces():
        return Liveness.UNKNOWN
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "pid") != namespace:
                continue
        except PermissionError:
            # Not ours to read (another user's, or a process that is not dumpable): unless
            # its NSpid shows it in the root namespace only, it may be in the owner's one.
            if _namespace_depth(entry) == 1:
                continue
            return Liveness.UNKNOWN
        except OSError:  # gone while we looked
            continue
        if _innermost_pid(entry) == pid and _stat_start(entry) == pid_start:
            return Liveness.ALIVE
    # Its namespace is gone, or lives on (possibly as a new namespace with a reused inode)
    # without the owner in it: either way the owner is dead.
    return Liveness.DEAD

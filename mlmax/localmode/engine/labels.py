"""Docker labels that mark every container mlmax starts, so it can always find and remove them.

A session is one process using Local Mode (a pytest run, a CLI command). Its id carries the
process id and the process start time, so a later session can tell whether the owner of a
leftover container is still alive (the reaper) without trusting a pid that may be reused.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from functools import cache

from mlmax.localmode.engine.pid_namespaces import Liveness, boot_id, liveness_in, own_namespace

PREFIX = "org.mlmax"
SESSION = f"{PREFIX}.session"
JOB = f"{PREFIX}.job"
RUN = f"{PREFIX}.run"
OWNER_PID = f"{PREFIX}.pid"
OWNER_START = f"{PREFIX}.pid-start"
OWNER_HOST = f"{PREFIX}.host"
OWNER_BOOT = f"{PREFIX}.boot"


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return None
    # Field 22 of /proc/<pid>/stat; the split after ")" starts at field 3.
    return fields[19]


def host_identity() -> str:
    """This machine AND pid namespace: a pid only means something inside its namespace.

    A dev container sharing the engine (and even the hostname) sees other pids; its
    sessions must never look like orphans to us, nor ours to it.
    """
    return f"{socket.gethostname()}/{own_namespace()}"


@dataclass(frozen=True)
class Owner:
    """The process that owns something (a temp dir, a run record): alive or not, decidably.

    A pid alone may be reused; pid + kernel start time + pid namespace cannot be. The boot
    id says the namespace is one of this kernel's (an engine may be shared by machines).
    """

    host: str
    pid: int
    pid_start: str
    boot: str = ""

    @classmethod
    def current(cls) -> Owner:
        session = current_session()
        return cls(session.host, session.pid, session.pid_start, session.boot)

    @classmethod
    def from_json(cls, data: object) -> Owner | None:
        """The owner a marker names, or None if the marker is not one."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                host=str(data["host"]),
                pid=int(data["pid"]),
                pid_start=str(data["pid_start"]),
                boot=str(data.get("boot") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"host": self.host, "pid": self.pid}
        return {**data, "pid_start": self.pid_start, "boot": self.boot}

    def liveness(self) -> Liveness:
        """Whether the owner's process lives, as far as this process can tell.

        An owner of our own pid namespace is checked by its pid and start time. One of another
        namespace of this kernel (a dev container rebuilt after a kill) only from the root pid
        namespace, which sees every process (pid_namespaces); one of another kernel, or from
        before owners carried the boot id, never: its pids mean nothing here.
        """
        namespace = self.host.rpartition("/")[2]
        same_kernel = bool(self.boot) and self.boot == boot_id()
        if self.host == host_identity() or (same_kernel and namespace == own_namespace()):
            alive = process_start_time(self.pid) == self.pid_start
            return Liveness.ALIVE if alive else Liveness.DEAD
        if not same_kernel:
            return Liveness.UNKNOWN
        return liveness_in(namespace, self.pid, self.pid_start)

    def is_dead_here(self) -> bool:
        """True only when the owner's process is known to be gone (`liveness`)."""
        return self.liveness() is Liveness.DEAD


@dataclass(frozen=True)
class SessionLabels:
    """The identity of this process's Local Mode session."""

    session_id: str
    pid: int
    pid_start: str
    host: str
    boot: str

    def owner(self) -> dict[str, str]:
        """The labels that let the reaper tell whether this session is gone (`disowned`)."""
        return {
            SESSION: self.session_id,
            OWNER_PID: str(self.pid),
            OWNER_START: self.pid_start,
            OWNER_HOST: self.host,
            OWNER_BOOT: self.boot,
        }

    def for_run(self, job: str, run_id: str) -> dict[str, str]:
        """The labels one job run's containers carry."""
        return {**self.owner(), JOB: job, RUN: run_id}


def disowned() -> dict[str, str]:
    """The owner labels blanked, for an image committed from one of our containers.

    A commit keeps the container's labels in the image, and every container run from that
    image inherits them: without this, they would all look owned by the (soon dead) build
    process and be swept as its orphans. A blank owner is nobody's (`Owner.from_json`).
    """
    return dict.fromkeys(current_session().owner(), "")


@cache
def current_session() -> SessionLabels:
    """This process's session identity (stable for the life of the process)."""
    pid = os.getpid()
    return SessionLabels(
        session_id=f"{pid}-{secrets.token_hex(4)}",
        pid=pid,
        pid_start=process_start_time(pid) or "unknown",
        host=host_identity(),
        boot=boot_id(),
    )


def new_run_id(job: str) -> str:
    """A short unique id for one run of `job`, usable in names (compose project, dirs)."""
    safe = "".join(c if c.isalnum() else "-" for c in job.lower()).strip("-")[:20]
    return f"{safe}-{secrets.token_hex(4)}"

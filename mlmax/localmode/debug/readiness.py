"""Watching one debug run: find its container, say when a debugger can attach, enforce the wait.

When debugpy really listens (read from the container's socket table), ``on_ready`` gets a
`ReadyInfo` whose `line` tools key on; if no debugger connects within ``wait_timeout`` the
container is removed (the runner then raises). For ``repl`` mode ``on_ready`` gets a
`ReplInfo` with the ``docker attach`` / ``docker exec`` commands once the container runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mlmax.common import WaitTimeout, wait_until
from mlmax.localmode.debug.command import DebugOptions
from mlmax.localmode.debug.sockets import container_sockets, has_client, is_listening
from mlmax.localmode.engine import (
    JOB,
    LOOPBACK,
    SESSION,
    current_session,
    docker_client,
    remove_containers,
)
from mlmax.project import PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT

if TYPE_CHECKING:
    from mlmax.localmode.debug.relay import PortForward

READY_PREFIX = "mlmax: debugpy listening on"
POLL_SECONDS = 0.1
T = TypeVar("T")


class _Stopped(Exception):
    """The run is over (`ReadyWatch.stop`): nothing more to watch."""


def code_root(kind: str) -> str:
    return TRAINING_CODE_ROOT if kind == "training" else PROCESSING_CODE_ROOT


@dataclass(frozen=True)
class ReadyInfo:
    """debugpy listens: a debugger can attach now."""

    job: str
    port: int
    code_root: str
    container: str
    host: str = LOOPBACK

    @property
    def line(self) -> str:
        return ready_line(self.port, self.job, self.code_root, self.host)


def ready_line(port: int, job: str, code_root: str, host: str = LOOPBACK) -> str:
    """The one line tools key on: contains exactly `debugpy listening on HOST:PORT`."""
    return f"{READY_PREFIX} {host}:{port} (job {job}, code {code_root})"


@dataclass(frozen=True)
class ReplInfo:
    """The job sits in `python3 -i` in `container`."""

    job: str
    container: str

    @property
    def attach_command(self) -> str:
        return f"docker attach {self.container}"

    @property
    def exec_command(self) -> str:
        return f"docker exec -it {self.container} bash"

    @property
    def lines(self) -> list[str]:
        return [
            f"mlmax: job {self.job} runs under python3 -i in container {self.container}; "
            "leave the interpreter (Ctrl-D) to end the job, Ctrl-C here stops it",
            f"mlmax: interpreter:  {self.attach_command}   (detach: Ctrl-P Ctrl-Q)",
            f"mlmax: shell:        {self.exec_command}",
        ]


class ReadyWatch(threading.Thread):
    """Finds the run's container, reports readiness, enforces the wait for a debugger."""

    def __init__(
        self,
        *,
        job: str,
        kind: str,
        options: DebugOptions,
        wait_timeout: float,
        on_ready: Callable[[Any], None] | None,
        forward: PortForward | None = None,
        grace: float | None = None,
        on_grace: Callable[[ReadyInfo], None] | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(name=f"mlmax-inspect-{job}", daemon=True)
        self.job = job
        # The JOB label of the run's containers, when it is not `job` itself: a pipeline
        # step's container carries its pipeline run's label.
        self.label = label or job
        self.kind = kind
        self.options = options
        self.wait_timeout = wait_timeout
        self.on_ready = on_ready
        self.forward = forward
        self.grace = grace
        self.on_grace = on_grace
        self.stopping = threading.Event()
        self.gave_up = False
        self.error: BaseException | None = None
        self.container: Any = None
        self._known = {c.id for c in self._mine()}

    def _mine(self) -> list[Any]:
        session = current_session().session_id
        return docker_client().containers.list(
            ignore_removed=True,
            all=True,
            filters={"label": [f"{SESSION}={session}", f"{JOB}={self.label}"]},
        )

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)

    def _until(self, condition: Callable[[], T | None], *, timeout: float | None = None) -> T:
        """`condition()` until it is truthy (polled); _Stopped once the run is over."""

        def check() -> T | None:
            result = condition()
            if not result and self.stopping.is_set():
                raise _Stopped
            return result

        what = f"a debugger attaching to job {self.job}"
        return wait_until(
            check, timeout=timeout, what=what, interval=POLL_SECONDS, pause=self.stopping.wait
        )

    def run(self) -> None:
        try:
            self._watch()
        except Exception as error:  # debug_job reports it; the job must not wait forever
            self.error = error
            # End the job whichever way: a job left waiting for a debugger nobody was told
            # about would hang the run.
            found = [self.container] if self.container is not None else self._fresh()
            if found:
                remove_containers(found)

    def _fresh(self) -> list[Any]:
        try:
            return [c for c in self._mine() if c.id not in self._known]
        except OSError:  # a transient engine error must not end the watch: the job would
            return []  # then wait for a debugger forever with no ready line

    def _watch(self) -> None:
        try:
            container = self._until(lambda: next(iter(self._fresh()), None))
            self.container = container
            if self.forward is not None:
                self.forward.target(container)
            if self.options.mode == "repl":
                self._watch_repl(container)
            else:
                self._watch_debugpy(container)
        except _Stopped:
            return

    def _watch_repl(self, container: Any) -> None:
        def started() -> tuple[list[tuple[int, int]] | None] | None:
            rows = container_sockets(container)
            return (rows,) if rows != [] or container.status != "created" else None

        (rows,) = self._until(started)
        if rows is not None:  # running: `docker attach` works from now on
            self._announce(ReplInfo(self.job, container.name))

    def _watch_debugpy(self, container: Any) -> None:
        port = self.options.container_port

        def listening_or_gone() -> str | None:
            rows = container_sockets(container)
            if rows is None:  # the job ended (or was stopped) before debugpy listened
                return "gone"
            return "listening" if is_listening(rows, port) else None

        if self._until(listening_or_gone) == "gone":
            return
        ready_at = time.monotonic()
        if self.forward is not None:
            self.forward.set_ready()
        info = ReadyInfo(
            job=self.job,
            port=self.forward.port if self.forward is not None else 0,
            code_root=code_root(self.kind),
            container=container.name,
        )
        self._announce(info)
        self._await_client(container, info, ready_at)

    def _await_client(self, container: Any, info: ReadyInfo, ready_at: float) -> None:
        """Until a debugger attaches (`on_grace` once the grace is over), the job ends, or
        `wait_timeout` from the ready line, which ends the job."""
        port = self.options.container_port
        grace_at = [] if self.grace is None else [ready_at + self.grace]

        def attached_or_gone() -> str | None:
            rows = container_sockets(container)
            if rows is None:
                return "gone"
            if has_client(rows, port):
                return "attached"
            if grace_at and time.monotonic() >= grace_at[0]:
                grace_at.clear()
                if self.on_grace is not None:
                    self.on_grace(info)
            return None

        left = ready_at + self.wait_timeout - time.monotonic()
        try:
            self._until(attached_or_gone, timeout=left)
        except WaitTimeout:
            self.gave_up = True
            remove_containers([container])  # ends compose; the runner cleans up

    def _announce(self, info: ReadyInfo | ReplInfo) -> None:
        if self.on_ready is not None:
            self.on_ready(info)

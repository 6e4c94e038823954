"""Run one job under a debugger in its Local Mode container (inspect mode).

Two modes:

- ``debugpy``: the job's script runs under debugpy listening on the CONTAINER's loopback
  (127.0.0.1:5678, ``--wait-for-client``), started by `debug_bootstrap` so the job's heavy
  imports are done before a debugger attaches. Nothing is published and nothing listens on
  the container's network interface: a `PortForward` on the host's 127.0.0.1 relays each
  connection into the container through the Docker API (anyone who can reach debugpy can run
  code as the job, so neither other containers on the network nor the host at the container's
  IP may). When debugpy really listens, ``on_ready`` gets a `ReadyInfo` whose `line` tools key
  on; if no debugger connects within ``wait_timeout`` the container is removed and
  `DebuggerNotAttachedError` raised.
- ``repl``: the script runs under ``python3 -i`` in the (tty) container; ``on_ready`` gets the
  ``docker attach`` / ``docker exec`` commands. The job ends when the interpreter does.

Readiness is read from the container's own socket table (``/proc/net/tcp``), never by
connecting: a probe that reaches debugpy and hangs up makes it stop accepting the real client
(measured with debugpy 1.8: the next ``initialize`` is never answered).

This module imports only the standard library at import time: the runner imports
`DebugOptions` from here, and the pytest plugin imports the constants.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import posixpath
import shlex
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlmax.catalog import JOBS_DIR, PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT
from mlmax.localmode.errors import JobFailedError, LocalModeError

if TYPE_CHECKING:
    from mlmax.catalog import JobDefinition, JobRun
    from mlmax.localmode.port_forward import PortForward
    from mlmax.localmode.runner import JobResult
    from mlmax.localmode.session import OfflineSession

DEBUGPY_PORT = 5678  # where debugpy listens inside the container
DEFAULT_INSPECT_PORT = 5678  # the host port on 127.0.0.1, as in VS Code's usual launch config
DEBUGPY_HOST = "127.0.0.1"  # inside the container: only the forwarder's relay reaches it
DEFAULT_WAIT_TIMEOUT = 300.0  # seconds to wait for a debugger to connect
LOOPBACK = "127.0.0.1"
READY_PREFIX = "mlmax: debugpy listening on"
POLL_SECONDS = 0.1

InspectMode = Literal["debugpy", "repl"]
INSPECT_MODES: tuple[InspectMode, ...] = ("debugpy", "repl")

# TCP states in /proc/net/tcp (include/net/tcp_states.h).
_TCP_ESTABLISHED = 0x01
_TCP_LISTEN = 0x0A


@dataclass(frozen=True)
class DebugOptions:
    """How the runner starts the job's interpreter (nothing is published: see PortForward)."""

    container_port: int = DEBUGPY_PORT
    wait_for_client: bool = True
    mode: InspectMode = "debugpy"
    # A path to create as a symlink to `code_root` before the job starts (training jobs).
    # debugpy maps a breakpoint's workspace path through the FIRST pathMapping with that
    # localRoot (the processing root in VS Code's config) and then compares real paths: with
    # the processing root linked to the training root, one attach config serves both kinds.
    code_alias: str | None = None
    code_root: str = TRAINING_CODE_ROOT

    def python_command(self) -> list[str]:
        """The interpreter command that replaces plain `python3`."""
        if self.mode == "repl":
            return ["python3", "-i"]
        # Frozen stdlib modules make debugpy warn and may miss breakpoints (Python >= 3.11);
        # older interpreters ignore unknown -X options.
        command = ["python3", "-Xfrozen_modules=off", "-c", _bootstrap_source()]
        command += ["--listen", f"{DEBUGPY_HOST}:{self.container_port}"]
        if self.wait_for_client:
            command.append("--wait-for-client")
        if self.code_alias:
            link = (
                f"mkdir -p {shlex.quote(posixpath.dirname(self.code_alias))} && "
                f"ln -sfn {shlex.quote(self.code_root)} {shlex.quote(self.code_alias)} && "
                'exec "$0" "$@"'
            )
            command = ["sh", "-c", link, *command]
        return command


BOOTSTRAP = Path(__file__).with_name("debug_bootstrap.py")


def _bootstrap_source() -> str:
    """debug_bootstrap for `python3 -c` (the image has no mlmax), as ONE shell-safe line.

    The SDK's entry scripts join the command into one line of shell (training even folds its
    newlines), so the source travels compressed and base64-encoded.
    """
    packed = base64.b64encode(zlib.compress(BOOTSTRAP.read_bytes(), 9)).decode("ascii")
    return f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{packed}')))"


# -- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DebugFlags:
    """The options the user typed for the port and the wait: messages name these."""

    port: str
    wait: str


INSPECT_FLAGS = DebugFlags(port="--inspect-port", wait="--inspect-timeout")  # pytest
DEBUG_COMMAND_FLAGS = DebugFlags(port="--port", wait="--wait-timeout")  # `mlmax debug`
SERVE_COMMAND_FLAGS = DebugFlags(port="--debug-port", wait="--timeout")  # `mlmax serve`


class InspectError(LocalModeError):
    """Inspect mode could not start or complete."""


class InspectPortBusyError(InspectError):
    def __init__(self, port: int, flags: DebugFlags = INSPECT_FLAGS) -> None:
        self.port = port
        super().__init__(
            f"port {port} on {LOOPBACK} is already in use, so the debugger cannot listen there; "
            f"choose another with {flags.port} NUMBER, or {flags.port} 0 to pick a free one"
        )


class DebuggerNotAttachedError(InspectError):
    def __init__(
        self, job: str, port: int, wait_timeout: float, flags: DebugFlags = INSPECT_FLAGS
    ) -> None:
        self.job = job
        self.port = port
        self.wait_timeout = wait_timeout
        super().__init__(
            f"no debugger attached to job {job!r} on {LOOPBACK}:{port} within "
            f"{wait_timeout:g} s, so the job was stopped and its container removed; attach "
            f"sooner or raise the wait ({flags.wait} SECONDS)"
        )


# -- host ports ------------------------------------------------------------------------------


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether `port` can be bound on `host` (what docker-proxy will need to do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a port in TIME_WAIT is usable; a listening one still is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def resolve_host_port(port: int, flags: DebugFlags = INSPECT_FLAGS) -> int:
    """`port` if free, a free one for 0; InspectPortBusyError if taken."""
    if port == 0:
        return free_port()
    if not 0 < port < 65536:
        raise InspectError(f"{flags.port} must be between 0 and 65535, not {port}")
    if not port_is_free(port):
        raise InspectPortBusyError(port, flags)
    return port


def open_forward(port: int, flags: DebugFlags = INSPECT_FLAGS) -> PortForward:
    """A PortForward from the host's 127.0.0.1:`port` (0 = free) to debugpy in the container."""
    from mlmax.localmode.port_forward import PortForward

    try:
        return PortForward(port, DEBUGPY_PORT)
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            raise InspectPortBusyError(port, flags) from None
        raise


# -- what the user sees ------------------------------------------------------------------------


def code_root(kind: str) -> str:
    return TRAINING_CODE_ROOT if kind == "training" else PROCESSING_CODE_ROOT


def path_mappings(jobs_dir: Path = JOBS_DIR) -> list[dict[str, str]]:
    """The pathMappings of VS Code's attach configuration: both container code roots."""
    return [
        {"localRoot": str(jobs_dir), "remoteRoot": PROCESSING_CODE_ROOT},
        {"localRoot": str(jobs_dir), "remoteRoot": TRAINING_CODE_ROOT},
    ]


def job_path_mappings(job: JobDefinition) -> list[dict[str, str]]:
    """The pathMapping of one declared job: its container code root to its source folder."""
    return [{"localRoot": str(job.source_dir), "remoteRoot": job.code_root}]


@dataclass(frozen=True)
class ReadyInfo:
    """debugpy listens: a debugger can attach now."""

    job: str
    port: int
    code_root: str
    container: str
    host: str = LOOPBACK
    since_start: float = 0.0  # seconds from the start of debug_job to readiness

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


# -- reading the container's sockets -------------------------------------------------------------


def parse_socket_table(text: str) -> list[tuple[int, int]]:
    """(local port, state) of every row of /proc/net/tcp{,6} output."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1] or fields[0] == "sl":
            continue
        try:
            port = int(fields[1].rsplit(":", 1)[1], 16)
            state = int(fields[3], 16)
        except ValueError:
            continue
        rows.append((port, state))
    return rows


def _sockets(container: Any) -> list[tuple[int, int]] | None:
    """The container's TCP sockets; None once it is gone or no longer running."""
    from docker.errors import APIError

    try:
        container.reload()
        if container.status == "created":  # compose created it, has not started it yet
            return []
        if container.status != "running":
            return None
        # `cat` of both tables; tcp6 may be absent (IPv6 disabled): keep what was printed.
        result = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], demux=False)
    except APIError as error:  # removed (404); anything else: not readable yet, poll again
        return None if getattr(error, "status_code", None) == 404 else []
    except OSError:  # the engine's socket hiccupped (requests' errors are OSErrors): poll again
        return []
    return parse_socket_table((result.output or b"").decode("ascii", errors="replace"))


def is_listening(rows: list[tuple[int, int]], port: int) -> bool:
    return any(p == port and s == _TCP_LISTEN for p, s in rows)


def has_client(rows: list[tuple[int, int]], port: int) -> bool:
    return any(p == port and s == _TCP_ESTABLISHED for p, s in rows)


# -- watching one debug run ------------------------------------------------------------------------


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
        started: float,
        forward: PortForward | None = None,
        grace: float | None = None,
        on_grace: Callable[[ReadyInfo], None] | None = None,
    ) -> None:
        super().__init__(name=f"mlmax-inspect-{job}", daemon=True)
        from mlmax.localmode import containers, labels

        self._containers = containers
        self._labels = labels
        self.job = job
        self.kind = kind
        self.options = options
        self.wait_timeout = wait_timeout
        self.on_ready = on_ready
        self.started = started
        self.forward = forward
        self.grace = grace
        self.on_grace = on_grace
        self.stopping = threading.Event()
        self.gave_up = False
        self.ready: ReadyInfo | ReplInfo | None = None
        self.attached_after: float | None = None  # seconds from ready to a client connecting
        self.error: BaseException | None = None
        self.container: Any = None
        self._known = {c.id for c in self._mine()}

    def _mine(self) -> list[Any]:
        session = self._labels.current_session().session_id
        return self._containers.docker_client().containers.list(
            ignore_removed=True,
            all=True,
            filters={
                "label": [f"{self._labels.SESSION}={session}", f"{self._labels.JOB}={self.job}"]
            },
        )

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)

    def _wait(self) -> bool:
        """Sleep one poll interval; False once the run is over."""
        return not self.stopping.wait(POLL_SECONDS)

    def run(self) -> None:
        try:
            self._watch()
        except Exception as error:  # debug_job reports it; the job must not wait forever
            self.error = error
            # End the job whichever way: a job left waiting for a debugger nobody was told
            # about would hang the run.
            found = [self.container] if self.container is not None else self._fresh()
            if found:
                self._containers.remove(found)

    def _fresh(self) -> list[Any]:
        try:
            return [c for c in self._mine() if c.id not in self._known]
        except OSError:  # a transient engine error must not end the watch: the job would
            return []  # then wait for a debugger forever with no ready line

    def _watch(self) -> None:
        container = None
        while container is None:
            fresh = self._fresh()
            container = fresh[0] if fresh else None
            if container is None and not self._wait():
                return
        self.container = container
        if self.forward is not None:
            self.forward.target(container)
        if self.options.mode == "repl":
            while (rows := _sockets(container)) == [] and container.status == "created":
                if not self._wait():
                    return
            if rows is not None:  # running: `docker attach` works from now on
                self._announce(ReplInfo(self.job, container.name))
            return
        port = self.options.container_port
        while True:
            rows = _sockets(container)
            if rows is None:  # the job ended (or was stopped) before debugpy listened
                return
            if is_listening(rows, port):
                break
            if not self._wait():
                return
        ready_at = time.monotonic()
        if self.forward is not None:
            self.forward.set_ready()
        info = ReadyInfo(
            job=self.job,
            port=self.forward.port if self.forward is not None else 0,
            code_root=code_root(self.kind),
            container=container.name,
            since_start=ready_at - self.started,
        )
        self._announce(info)
        deadline = ready_at + self.wait_timeout
        grace_at = None if self.grace is None else ready_at + self.grace
        while True:
            rows = _sockets(container)
            if rows is None:
                return
            if has_client(rows, port):
                break
            now = time.monotonic()
            if grace_at is not None and now >= grace_at:
                grace_at = None
                if self.on_grace is not None:
                    self.on_grace(info)
            if now >= deadline:
                self.gave_up = True
                self._containers.remove([container])  # ends compose; the runner cleans up
                return
            if not self._wait():
                return
        self.attached_after = time.monotonic() - ready_at

    def _announce(self, info: ReadyInfo | ReplInfo) -> None:
        self.ready = info
        if self.on_ready is not None:
            self.on_ready(info)


# -- the API ------------------------------------------------------------------------------------


@dataclass
class DebugRun:
    """What a debug run measured (filled in as it goes; for reports and benchmarks)."""

    ready: ReadyInfo | ReplInfo | None = None
    attached_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def debug_job(
    run: JobRun,
    *,
    image: str,
    session: OfflineSession | None = None,
    port: int = DEFAULT_INSPECT_PORT,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    on_ready: Callable[[Any], None] | None = None,
    mode: InspectMode = "debugpy",
    timeout: float | None = None,
    environment: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    record: DebugRun | None = None,
    grace: float | None = None,
    on_grace: Callable[[ReadyInfo], None] | None = None,
    code_dir: Path | None = None,  # None: the job's declared source folder
    flags: DebugFlags = INSPECT_FLAGS,
) -> JobResult:
    """Run `run` in its Local Mode container under debugpy (or `python3 -i` for "repl").

    - `port`: host port on 127.0.0.1 (0 = a free one) where a PortForward relays to debugpy
      on the container's loopback; InspectPortBusyError if taken.
    - `image`: for debugpy, an image without debugpy is replaced by a derived image with
      debugpy installed offline (`image.ensure_debugpy_image`).
    - `on_ready(ReadyInfo)` once debugpy listens (`info.line` is the ready line); for "repl"
      `on_ready(ReplInfo)` once the container runs.
    - No debugger within `wait_timeout` s: DebuggerNotAttachedError, container removed.
    - `on_grace(ReadyInfo)` once, if no debugger connected `grace` s after readiness.
    - `session`: an OfflineSession to reuse; without one a LocalMode (embedded S3, private
      temp dirs) is started and stopped around the run.
    - `timeout`: of the whole job (None: as long as the person debugging needs).
    Returns the runner's JobResult; raises JobFailedError as `run_job` does.
    """
    if mode not in INSPECT_MODES:
        raise InspectError(f"unknown inspect mode {mode!r}; choose one of {INSPECT_MODES}")
    started = time.monotonic()
    alias = PROCESSING_CODE_ROOT if run.job.kind == "training" else None
    options = DebugOptions(mode=mode, code_alias=alias)
    with contextlib.ExitStack() as stack:
        forward = None
        if mode == "debugpy":
            forward = stack.enter_context(open_forward(port, flags))
            from mlmax.localmode.image import ensure_debugpy_image

            image = ensure_debugpy_image(image, progress=progress)
        if session is None:
            from mlmax.localmode.runner import LocalMode

            local_mode = stack.enter_context(LocalMode(image=image, progress=progress))
            session = local_mode.session
            assert session is not None
        return _run_watched(
            run,
            image=image,
            session=session,
            options=options,
            wait_timeout=wait_timeout,
            on_ready=on_ready,
            timeout=timeout,
            environment=environment,
            progress=progress,
            record=record,
            started=started,
            forward=forward,
            grace=grace,
            on_grace=on_grace,
            code_dir=code_dir,
            flags=flags,
        )
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack never swallows


def _run_watched(
    run: JobRun,
    *,
    image: str,
    session: OfflineSession,
    options: DebugOptions,
    wait_timeout: float,
    on_ready: Callable[[Any], None] | None,
    timeout: float | None,
    environment: Mapping[str, str] | None,
    progress: Callable[[str], None] | None,
    record: DebugRun | None,
    started: float,
    forward: PortForward | None,
    grace: float | None,
    on_grace: Callable[[ReadyInfo], None] | None,
    code_dir: Path | None,
    flags: DebugFlags,
) -> JobResult:
    from mlmax.localmode.runner import run_job

    watch = ReadyWatch(
        job=run.job.name,
        kind=run.job.kind,
        options=options,
        wait_timeout=wait_timeout,
        on_ready=on_ready,
        started=started,
        forward=forward,
        grace=grace,
        on_grace=on_grace,
    )
    watch.start()
    try:
        return run_job(
            run,
            image=image,
            session=session,
            timeout=timeout,
            debug=options,
            environment=environment,
            progress=progress,
            code_dir=code_dir,
        )
    except JobFailedError as error:
        if watch.error is not None:
            raise InspectError(
                f"inspect mode lost track of job {run.job.name!r}'s container "
                f"({watch.error}); the job was stopped, run it again"
            ) from error
        if watch.gave_up:
            port = forward.port if forward is not None else 0
            raise DebuggerNotAttachedError(run.job.name, port, wait_timeout, flags) from None
        raise
    finally:
        watch.stop()
        if record is not None:
            record.ready = watch.ready
            record.attached_after = watch.attached_after

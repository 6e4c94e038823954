"""Forward a port on the host's 127.0.0.1 to a port on a container's own loopback.

Like `kubectl port-forward`: nothing is published and nothing in the container listens on
its network interface, so neither another container on the same Docker network nor the host
at the container's IP can reach the port; only a process that can use the host's 127.0.0.1
(and the Docker API) can. Each accepted TCP connection gets its own relay: a `docker exec` of
a few lines of python3 in the container that connects to the container's 127.0.0.1:PORT and
copies bytes between that connection and its stdin/stdout, which the Docker API carries
(stdout multiplexed, read back with docker's own frame reader). One relay is kept started
and waiting for its first bytes before it connects, so a client does not wait for a
`docker exec` to start (a relay that never gets bytes never touches the port).

Used for debugpy (inspect mode, `mlmax debug`, Debug Test, `mlmax serve --debug-port`,
`sm_session` under inspect mode): a debugger reachable by anyone who can connect runs any code
as the job. But every local user can connect to 127.0.0.1, so each accepted connection is
checked first: the kernel's socket table (`/proc/net/tcp` and `tcp6`, the row whose local
address is the client's) names the uid that owns the client's socket, and only this process's
user and root are relayed. Anyone else, or a client whose owner cannot be read (a socket
already closed, which the table lists as root's, or a system without that table), is closed
before a byte is relayed, with a log line naming the uid.

A connection accepted before the container is known and ready waits (up to `ready_timeout`)
rather than failing: a client may attach as soon as it learns the port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any

from mlmax.localmode.engine import bind_loopback

CHUNK = 65536
SOCKET_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))

logger = logging.getLogger(__name__)

# Runs in the container: once the client's first bytes arrive on stdin, connect to its
# loopback port (argv[1]), copy stdin -> socket in a thread and socket -> stdout here; exit
# when either side ends. Only the standard library.
RELAY = """\
import os, socket, sys, threading
first = os.read(0, 65536)
if not first:
    sys.exit(0)
conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
conn.sendall(first)
def upstream():
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        conn.sendall(data)
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=upstream, daemon=True).start()
while True:
    data = conn.recv(65536)
    if not data:
        break
    os.write(1, data)
"""


class PortForward:
    """Host 127.0.0.1:`port` (0 = one the OS picks) -> `container_port` on a container's loopback.

    Bind happens in the constructor (so a busy port fails early, OSError from `bind`); call
    `target(container)` once the container exists, `set_ready()` once the container's
    service listens, and `close()` at the end (also a context manager).
    """

    def __init__(self, port: int, container_port: int, *, ready_timeout: float = 600.0) -> None:
        self.container_port = container_port
        self.ready_timeout = ready_timeout
        self._listener = bind_loopback(port)  # the rule `port_is_free` checks by
        self._listener.listen(8)
        self.port: int = self._listener.getsockname()[1]
        self._container: Any = None
        self._ready = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._standby: Any = None  # a started relay waiting for a client
        self.connections = 0  # accepted so far (for tests and reports)
        self.refused = 0  # of those, closed because another user owned them
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"mlmax-forward-{self.port}", daemon=True
        )
        self._acceptor.start()

    # -- lifecycle ---------------------------------------------------------------------------
    def target(self, container: Any) -> None:
        """The container to relay into (a docker SDK Container)."""
        self._container = container

    def set_ready(self) -> None:
        """The container's port listens: waiting connections are relayed from now on."""
        self._ready.set()
        self._prepare_standby()

    def close(self) -> None:
        """Stop accepting and end every relayed connection."""
        self._closed.set()
        self._ready.set()  # wake waiting connections so they end
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _close(sock)
            self._open.clear()
            standby, self._standby = self._standby, None
        if standby is not None:
            _close(_raw(standby))
        self._acceptor.join(timeout=5)

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- relaying ----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            self.connections += 1
            if not self._allowed(client):
                _close(client)
                continue
            self._track(client)
            threading.Thread(
                target=self._relay, args=(client,), name="mlmax-forward-conn", daemon=True
            ).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            if self._closed.is_set():
                _close(sock)
            else:
                self._open.add(sock)

    def _allowed(self, client: socket.socket) -> bool:
        """Whether the client's socket belongs to this process's user or to root."""
        try:
            peer, local = client.getpeername(), client.getsockname()
        except OSError:  # already gone
            return False
        uid = socket_owner(peer, local)
        if uid in (os.geteuid(), 0):
            return True
        who = f"uid {uid}" if uid is not None else "a user that could not be identified"
        logger.warning(
            "refused a debugger connection to %s:%d from %s: only uid %d (who started "
            "this session) and root may attach",
            local[0], local[1], who, os.geteuid(),
        )  # fmt: skip
        self.refused += 1
        return False

    def _relay(self, client: socket.socket) -> None:
        exec_socket = None
        try:
            if not self._ready.wait(self.ready_timeout) or self._closed.is_set():
                return
            exec_socket = self._take_relay()
            raw = _raw(exec_socket)
            self._track(raw)
            threading.Thread(
                target=_copy_to_exec, args=(client, raw), name="mlmax-forward-up", daemon=True
            ).start()
            self._copy_from_exec(exec_socket, client)
        except Exception:  # the engine or container went away: drop this one
            pass
        finally:
            _close(client)
            if exec_socket is not None:
                _close(_raw(exec_socket))
            with self._lock:
                self._open.discard(client)

    def _take_relay(self) -> Any:
        """The waiting relay if there is one (a fresh one is started for the next client)."""
        with self._lock:
            relay, self._standby = self._standby, None
        self._prepare_standby()
        return relay if relay is not None else self._start_relay()

    def _prepare_standby(self) -> None:
        threading.Thread(
            target=self._start_standby, name="mlmax-forward-standby", daemon=True
        ).start()

    def _start_standby(self) -> None:
        try:
            relay = self._start_relay()
        except Exception:  # the container is gone: connections start their own (and fail)
            return
        with self._lock:
            if self._closed.is_set() or self._standby is not None:
                spare = relay
            else:
                self._standby, spare = relay, None
        if spare is not None:
            _close(_raw(spare))

    def _start_relay(self) -> Any:
        from mlmax.localmode.engine import docker_client

        api = docker_client().api
        created = api.exec_create(
            self._container.id,
            ["python3", "-c", RELAY, str(self.container_port)],
            stdin=True,
            stdout=True,
            stderr=False,
            tty=False,
        )
        return api.exec_start(created["Id"], socket=True)

    @staticmethod
    def _copy_from_exec(exec_socket: Any, client: socket.socket) -> None:
        from docker.utils.socket import STDOUT, frames_iter

        for stream, data in frames_iter(exec_socket, tty=False):
            if stream == STDOUT and data:
                client.sendall(data)


def can_identify_peers() -> bool:
    """Whether this system has the socket table `socket_owner` reads (Linux does)."""
    return SOCKET_TABLES[0].is_file()


def socket_owner(address: tuple[Any, ...], peer: tuple[Any, ...]) -> int | None:
    """The uid owning the local TCP socket at `address` connected to `peer`, or None.

    From the kernel's socket table of this network namespace (the one the listener is in,
    and so every client of a loopback port). A row without an inode is a socket no process
    holds any more (closed, or in TIME_WAIT): the table shows uid 0 for it, which says
    nothing about who made it, so it counts as unknown.
    """
    wanted = (_address(address), _address(peer))
    for table in SOCKET_TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[9] == "0":
                continue
            if (_table_address(fields[1]), _table_address(fields[2])) == wanted:
                return int(fields[7])
    return None


def _address(address: tuple[Any, ...]) -> tuple[str, int]:
    """(host, port) as `accept` gives it, an IPv4-mapped IPv6 host as plain IPv4."""
    host = str(address[0]).removeprefix("::ffff:")
    return host, int(address[1])


def _table_address(field: str) -> tuple[str, int]:
    """`0100007F:1F90` (each 32-bit word in host byte order, hex) as ("127.0.0.1", 8080)."""
    host, port = field.split(":")
    words = [int(host[i : i + 8], 16) for i in range(0, len(host), 8)]
    packed = struct.pack(f"={len(words)}I", *words)
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed), int(port, 16)
    return _address((socket.inet_ntop(socket.AF_INET6, packed), int(port, 16)))


def _copy_to_exec(client: socket.socket, raw: socket.socket) -> None:
    try:
        while data := client.recv(CHUNK):
            raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)  # the relay's stdin ends: it half-closes towards the port
    except OSError:
        _close(raw)


def _raw(exec_socket: Any) -> socket.socket:
    """The socket under docker's SocketIO wrapper (for writes and shutdown)."""
    return getattr(exec_socket, "_sock", exec_socket)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()

"""A Unix socket standing in for the Docker engine's, that counts who connects to it.

Point DOCKER_HOST at it to learn whether (and how often) a run talks to the engine: it
accepts each connection and closes it at once, so a client that does connect fails as it
would against a dead engine, and the count says how many connections it tried.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from types import TracebackType


class DockerTripwire:
    def __init__(self) -> None:
        # A short directory of its own: a socket path has a limit of about 100 bytes, and
        # TMPDIR can be deep (the dev container keeps it inside the workspace).
        self._directory = Path(tempfile.mkdtemp(prefix="mlmax-tripwire-", dir=_short_temp_root()))
        self.path = self._directory / "docker.sock"
        self.connections = 0
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def __enter__(self) -> DockerTripwire:
        self._server.bind(str(self.path))
        self._server.listen(16)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # close() alone does not wake an accept() already blocked in the thread (Linux): the
        # join below then waited its whole timeout. shutdown() does wake it; accept() fails.
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=10)
        shutil.rmtree(self._directory, ignore_errors=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


def _short_temp_root() -> str:
    """The temp directory, or /tmp when its path leaves too little room for a socket name."""
    root = tempfile.gettempdir()
    return root if len(root) <= 60 else "/tmp"

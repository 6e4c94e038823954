"""An S3-compatible server on 127.0.0.1 for the SDK's real upload and download path.

The SDK always uploads local processing inputs and code to S3 and downloads them again; with
this server that round trip stays on loopback, with no AWS account. moto's server mode runs
in a child process (`s3server_process.py`) on a free port, behind a signature check
(`s3auth.py`): only requests signed with this server's random keys get through, so other
local users cannot read, list or plant objects (a planted `sourcedir.tar.gz` would run in a
job container).

This process binds the socket and hands it over, so the endpoint is known at once and
requests made before the child serves wait in the socket's queue; `start(wait=False)` lets
the caller do other work (import the SageMaker SDK) while the child starts on another core.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from types import TracebackType

from mlmax.common import EnvironmentNotReadyError
from mlmax.localmode.s3.auth import SessionKeys
from mlmax.localmode.s3.server_process import READY

LOOPBACK = "127.0.0.1"
# Endpoint URL -> the servers running in this process: an OfflineSession given only an
# endpoint URL signs with that server's keys, and waits for it to be ready.
_servers_by_endpoint: dict[str, S3Server] = {}


class S3ServerError(EnvironmentNotReadyError, RuntimeError):
    """The embedded S3 server did not come up."""


def keys_for(endpoint_url: str) -> SessionKeys | None:
    """The keys of the embedded server at `endpoint_url`, if it runs in this process."""
    server = _servers_by_endpoint.get(endpoint_url.rstrip("/"))
    return server.keys if server is not None else None


def is_embedded_access_key(access_key: str) -> bool:
    """True for the access key of an embedded server running in this process."""
    return any(server.keys.access_key == access_key for server in _servers_by_endpoint.values())


def wait_until_ready(endpoint_url: str) -> None:
    """Wait for the embedded server at `endpoint_url` (no-op for any other endpoint)."""
    server = _servers_by_endpoint.get(endpoint_url.rstrip("/"))
    if server is not None:
        server.wait_until_ready()


class S3Server:
    """`with S3Server() as s3: s3.endpoint_url, s3.keys` - started on enter, always stopped
    on exit."""

    def __init__(self, *, ready_timeout: float = 30.0) -> None:
        self._ready_timeout = ready_timeout
        self._process: subprocess.Popen[str] | None = None
        self._ready = False
        self.endpoint_url: str = ""
        self.keys = SessionKeys.generate()

    def start(self, *, wait: bool = True) -> S3Server:
        """Start the server; with wait=False return before it serves (see wait_until_ready)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((LOOPBACK, 0))
            listener.listen(128)
            server = [sys.executable, "-m", "mlmax.localmode.s3.server_process"]
            self._process = subprocess.Popen(
                # Through sh: a debugger that follows Python subprocesses (debugpy, as in
                # Debug Test) would otherwise start the server under its tracer and stall it.
                ["/bin/sh", "-c", 'exec "$@"', "sh", *server, str(listener.fileno())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                pass_fds=(listener.fileno(),),
            )
            host, port = listener.getsockname()[:2]
        finally:
            listener.close()  # the child's copy serves; if the child dies, clients see it
        self.endpoint_url = f"http://{host}:{port}"
        _servers_by_endpoint[self.endpoint_url] = self
        try:
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(asdict(self.keys)) + "\n")
                self._process.stdin.flush()
            except BrokenPipeError:  # it is gone already: say why now
                wait = True
            if wait:
                self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs."""
        return self._process.pid if self._process is not None else None

    def wait_until_ready(self) -> None:
        """Block until the server has answered a signed request; S3ServerError if it cannot."""
        if self._ready:
            return
        process = self._process
        if process is None or process.stdout is None:
            raise S3ServerError("the embedded S3 server was not started")
        deadline = time.monotonic() + self._ready_timeout
        line = ""
        while time.monotonic() < deadline:
            readable, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
            if readable:
                line = process.stdout.readline().strip()
                break
        if line != READY:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)  # its output ended: it is exiting, if not gone yet
            code = process.poll()
            why = f"it exited with code {code}" if code is not None else "no answer"
            raise S3ServerError(
                f"the embedded S3 server at {self.endpoint_url} did not start within "
                f"{self._ready_timeout:.0f} s ({why}); check that mlmax's dependencies moto[s3], "
                "flask and flask-cors are installed"
            )
        self._ready = True

    def stop(self) -> None:
        _servers_by_endpoint.pop(self.endpoint_url, None)
        process, self._process = self._process, None
        if process is None:
            return
        # EOF on its stdin is the child's stop signal.
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""An S3-compatible server on 127.0.0.1 for the SDK's real upload and download path.

The SDK always uploads local processing inputs and code to S3 and downloads them again; with
this server that round trip stays on loopback, with no AWS account. moto's server mode runs
in a thread of this process on a free port, behind a signature check (`s3auth.py`): only
requests signed with this server's random keys get through, so other local users cannot
read, list or plant objects (a planted `sourcedir.tar.gz` would run in a job container).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any

from mlmax.errors import EnvironmentNotReadyError
from mlmax.localmode.s3auth import SessionKeys, SessionOnly

LOOPBACK = "127.0.0.1"
# How often the serving loop looks for a stop request: `stop()` waits up to this long.
# socketserver's default (0.5 s) was paid at the end of every mlmax process.
SHUTDOWN_POLL_SECONDS = 0.05
# Endpoint URL -> keys of the servers running in this process: an OfflineSession given only
# an endpoint URL signs with that server's keys.
_keys_by_endpoint: dict[str, SessionKeys] = {}


class S3ServerError(EnvironmentNotReadyError, RuntimeError):
    """The embedded S3 server did not come up."""


def keys_for(endpoint_url: str) -> SessionKeys | None:
    """The keys of the embedded server at `endpoint_url`, if it runs in this process."""
    return _keys_by_endpoint.get(endpoint_url.rstrip("/"))


def is_embedded_access_key(access_key: str) -> bool:
    """True for the access key of an embedded server running in this process."""
    return any(keys.access_key == access_key for keys in _keys_by_endpoint.values())


class S3Server:
    """`with S3Server() as s3: s3.endpoint_url, s3.keys` - started on enter, always stopped
    on exit."""

    def __init__(self, *, ready_timeout: float = 10.0) -> None:
        self._ready_timeout = ready_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.endpoint_url: str = ""
        self.keys = SessionKeys.generate()

    def start(self) -> S3Server:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        # werkzeug logs every request at INFO to stderr: hundreds of lines per job otherwise.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = SessionOnly(DomainDispatcherApplication(create_backend_app), self.keys)
        self._server = make_server(
            LOOPBACK, 0, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="mlmax-s3",
            daemon=True,
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        _keys_by_endpoint[self.endpoint_url] = self.keys
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _keys_by_endpoint.pop(self.endpoint_url, None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _wait_until_ready(self) -> None:
        # The socket is bound before start() returns, but answer one real request before
        # declaring it ready: a half-started server would fail the first upload obscurely.
        deadline = time.monotonic() + self._ready_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/", timeout=1.0) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return
                last_error = error
            except OSError as error:
                last_error = error
            time.sleep(0.05)  # poll interval, not a guess at start-up time
        raise S3ServerError(
            f"the embedded S3 server at {self.endpoint_url} did not answer within "
            f"{self._ready_timeout:.0f} s ({last_error}); check that moto[server] is installed"
        )

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

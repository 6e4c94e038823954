"""An S3-compatible server on 127.0.0.1 for the SDK's real upload and download path.

The SDK always uploads local processing inputs and code to S3 and downloads them again; with
this server that round trip stays on loopback, with no AWS account. moto's server mode runs
in a thread of this process on a free port.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from types import TracebackType

from moto.server import ThreadedMotoServer

LOOPBACK = "127.0.0.1"


class S3ServerError(RuntimeError):
    """The embedded S3 server did not come up."""


class S3Server:
    """`with S3Server() as s3: s3.endpoint_url` - started on enter, always stopped on exit."""

    def __init__(self, *, ready_timeout: float = 10.0) -> None:
        self._ready_timeout = ready_timeout
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url: str = ""

    def start(self) -> S3Server:
        # werkzeug logs every request at INFO to stderr: hundreds of lines per job otherwise.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

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

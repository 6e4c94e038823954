"""The embedded S3 server's own process: moto behind the session's signature check.

Started by `s3server.S3Server` with a listening socket on 127.0.0.1 it already bound (its
descriptor is the one argument) and the session's keys on stdin (never in the command line
or the environment, which other local users can read). It serves until stdin closes: when
the parent stops it, and also when the parent dies, even by SIGKILL, so it never outlives
its session. Ctrl-C is the parent's to handle: the parent stops this process itself.

A separate process, not a thread: importing moto and loading its S3 backend, a CPU-bound
start, then runs on the second core while the parent imports the SageMaker SDK.
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from mlmax.common import skip_the_last_collection
from mlmax.localmode.s3.auth import SessionKeys, SessionOnly, WsgiApp

READY = "ready"
POLL_SECONDS = 0.05  # how often the serving loop looks for a stop request


def _signed_list_buckets(endpoint_url: str, keys: SessionKeys) -> urllib.request.Request:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=f"{endpoint_url}/")
    S3SigV4Auth(Credentials(keys.access_key, keys.secret_key), "s3", "us-east-1").add_auth(request)
    return urllib.request.Request(f"{endpoint_url}/", headers=dict(request.headers.items()))


def _error(status: str, code: str, message: str, start_response: Callable[..., Any]) -> list[bytes]:
    from xml.sax.saxutils import escape

    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error></ErrorResponse>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    start_response(status, headers, sys.exc_info())
    return [body]


class ErrorAnswers:
    """WSGI middleware: what the server cannot do is one AWS error the client reads, instead
    of a traceback on the session's terminal and a 500.

    - A full disk (moto spools large objects to TMPDIR): 507 InsufficientStorage naming it.
    - An action moto has not built: 501 NotImplemented. The SDK probes services the session
      never needs (IAM's policy simulation while building a pipeline) and copes with the error.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            return list(self._app(environ, start_response))
        except NotImplementedError as error:
            return _error("501 Not Implemented", "NotImplemented", str(error), start_response)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            place = tempfile.gettempdir()
            free = shutil.disk_usage(place).free / 1024**2
            message = (
                f"No space left on device in {place} (TMPDIR of the S3 server, {free:.1f} MB free)"
            )
            return _error(
                "507 Insufficient Storage", "InsufficientStorage", message, start_response
            )


def _serve(fd: int, keys: SessionKeys) -> Any:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    # werkzeug logs every request at INFO to stderr: hundreds of lines per job otherwise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = SessionOnly(ErrorAnswers(DomainDispatcherApplication(create_backend_app)), keys)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler, fd=fd
    )
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": POLL_SECONDS},
        name="mlmax-s3",
        daemon=True,
    ).start()
    host, port = server.server_address[:2]
    # One signed request through the whole chain (signature check, moto's S3 backend,
    # loaded on first use) before saying ready: the session's first real request is fast.
    with urllib.request.urlopen(_signed_list_buckets(f"http://{host}:{port}", keys), timeout=30):
        pass
    return server


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keys = SessionKeys(**json.loads(sys.stdin.readline()))
    server = _serve(int(argv[0]), keys)
    # The session waits for this process's exit when it stops the server: skipping the last
    # collection over moto's objects shortens that wait.
    skip_the_last_collection()
    print(READY, flush=True)
    sys.stdin.read()  # returns at EOF: the parent stopped us or is gone
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

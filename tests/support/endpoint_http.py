"""One HTTP request to an endpoint served on the host's loopback, as a client sends it."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any


def request(
    port: int, method: str, path: str, body: str = "", content_type: str = "text/csv"
) -> tuple[int, bytes]:
    """(status, body) of `method path` on 127.0.0.1:`port` (CSV in by default); waits (long)
    for the answer, since a debugger may hold the invocation at a breakpoint."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request(method, path, body=body or None, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def served_on_loopback(handler: Any, max_body: int) -> Iterator[int]:
    """mlmax's contract server (`handler_server`) around `handler`, under waitress on a free
    loopback port, as the serving container runs it: yields the port (use with `yield from`
    in a fixture), then stops the server."""
    import waitress

    from mlmax.localmode.endpoint import handler_server

    app = handler_server.make_app(handler, max_body)
    options = handler_server.server_options(max_body)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()
    thread.join(10)

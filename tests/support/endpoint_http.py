"""One HTTP request to an endpoint served on the host's loopback, as a client sends it."""

from __future__ import annotations

import http.client


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

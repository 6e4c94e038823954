"""A running endpoint as its caller sees it: invoke through the SDK, plain HTTP, /ping, logs."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any

from mlmax.localmode.engine import LOOPBACK, logs_of, run_containers


@dataclass(frozen=True)
class Invocation:
    """One answer of the endpoint."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Endpoint:
    """A running endpoint: its name, its port on 127.0.0.1 and ways to call it."""

    name: str
    port: int
    run_id: str
    ready_seconds: float
    runtime_client: Any = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def invoke(
        self, body: bytes | str, content_type: str = "text/csv", accept: str = "application/json"
    ) -> Invocation:
        """Call /invocations through the SDK's runtime client (as SageMaker code does)."""
        response = self.runtime_client.invoke_endpoint(
            EndpointName=self.name, Body=body, ContentType=content_type, Accept=accept
        )
        stream = response["Body"]
        data = stream.read()
        stream.release_conn()
        status = response["ResponseMetadata"].get("HTTPStatusCode") or stream.status
        return Invocation(int(status), str(response.get("ContentType") or ""), data)

    def post(
        self,
        body: bytes | str,
        content_type: str = "text/csv",
        accept: str = "application/json",
        path: str = "/invocations",
        method: str = "POST",
    ) -> Invocation:
        """Call the endpoint with plain HTTP on 127.0.0.1 (what curl would do)."""
        payload = body.encode() if isinstance(body, str) else body
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=60)
        try:
            headers = {"Content-Type": content_type, "Accept": accept}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return Invocation(
                response.status, response.getheader("Content-Type") or "", response.read()
            )
        finally:
            connection.close()

    def ping(self) -> bool:
        return ping(self.port)

    def logs(self) -> str:
        return logs_of(run_containers(self.run_id))


def ping(port: int) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()

"""Only this session may talk to the embedded S3 server: a SigV4 check in front of moto.

moto accepts any keys, and the server listens on 127.0.0.1, which every local user reaches.
So each server gets random keys (`SessionKeys.generate`) that live only in this process's
memory and in the environment of the SDK calls it pins, and every request must carry a
SigV4 signature made with them. The signature is recomputed with botocore's own signer from
the headers the client signed, and compared in constant time; anything else gets S3's 403
`AccessDenied`. The body's hash is taken from the signed `X-Amz-Content-SHA256` header (S3
clients always send it) and hashed from the body only where it is absent.
"""

from __future__ import annotations

import hmac
import io
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<access_key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>this S3 server serves one mlmax session only; sign requests with its "
    b"keys</Message></Error>"
)


@dataclass(frozen=True)
class SessionKeys:
    """The access key and secret one embedded S3 server accepts."""

    access_key: str
    secret_key: str = ""

    @classmethod
    def generate(cls) -> SessionKeys:
        return cls(
            access_key="MLMAX" + secrets.token_hex(8).upper(),
            secret_key=secrets.token_urlsafe(30),
        )

    def __repr__(self) -> str:  # never print the secret into a log or a test report
        return f"SessionKeys(access_key={self.access_key!r}, secret_key='***')"


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key not in {"CONTENT_TYPE", "CONTENT_LENGTH"}:
        key = "HTTP_" + key
    return environ.get(key)


def _body(environ: dict[str, Any]) -> bytes:
    """Read the body and put it back, so moto still reads it."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(data)
    return data


def signature_is_valid(environ: dict[str, Any], keys: SessionKeys) -> bool:
    """True when the request is SigV4-signed with `keys` (recomputed with botocore)."""
    match = _AUTHORIZATION.match(_header(environ, "authorization") or "")
    timestamp = _header(environ, "x-amz-date") or ""
    if match is None or not timestamp.startswith(match["date"]):
        return False
    if not hmac.compare_digest(match["access_key"], keys.access_key):
        return False
    headers = {}
    for name in match["signed"].split(";"):
        value = _header(environ, name)
        if value is None:
            return False
        headers[name] = value
    # The path exactly as sent (S3 signs it unnormalised); werkzeug keeps it in RAW_URI.
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]
    path = raw_uri.split("?", 1)[0]
    query = environ.get("QUERY_STRING", "")
    url = f"http://{headers.get('host', 'localhost')}{path}" + (f"?{query}" if query else "")
    data = b"" if "x-amz-content-sha256" in headers else _body(environ)
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers=headers, data=data)
    request.context["timestamp"] = timestamp
    signer_class = S3SigV4Auth if match["service"] == "s3" else SigV4Auth
    signer = signer_class(
        Credentials(keys.access_key, keys.secret_key), match["service"], match["region"]
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, match["signature"])


class SessionOnly:
    """WSGI middleware: pass signed requests of this session to `app`, refuse the rest."""

    def __init__(self, app: WsgiApp, keys: SessionKeys) -> None:
        self._app = app
        self._keys = keys

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if signature_is_valid(environ, self._keys):
            return self._app(environ, start_response)
        start_response(
            "403 Forbidden",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(_DENIED)))],
        )
        return [_DENIED]

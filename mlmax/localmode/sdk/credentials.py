"""Keep the embedded S3 server's keys out of job containers and compose files.

Local Mode's SDK copies the boto session's keys into every job container's environment, and
so into the compose file it writes and into `docker inspect`. With the embedded S3 server
those keys are the session's secret, and the containers have no use for them: the SDK
downloads S3 inputs and uploads outputs on the host, and the server listens on the host's
loopback, which a container cannot reach. So for sessions signing with an embedded server's
keys the SDK is told there are no credentials to pass; real S3 sessions keep the SDK's
behaviour. The SDK functions wrapped here are reached (and pinned) through
`mlmax.localmode.sdk.internals`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlmax.localmode.s3 import is_embedded_access_key
from mlmax.localmode.sdk import internals as sdk_internals

_MARK = "_mlmax_no_embedded_keys"


def _without_embedded_keys(aws_credentials: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def credentials_for_container(session: Any) -> Any:
        credentials = session.get_credentials() if session is not None else None
        if credentials is not None and is_embedded_access_key(credentials.access_key):
            return None
        return aws_credentials(session)

    return credentials_for_container


def keep_embedded_keys_out_of_containers() -> None:
    """Wrap the SDK's `_aws_credentials` where Local Mode's containers are built (idempotent)."""
    for hook in sdk_internals.AWS_CREDENTIALS:
        sdk_internals.wrap(hook, _without_embedded_keys, mark=_MARK)

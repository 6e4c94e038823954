"""The environment for a test that installs from the package index, as scripts/setup.sh sets it.

Behind a proxy that inspects TLS, pip trusts the CA it is given (PIP_CERT, or `cert` in a
pip.conf) and curl the system's store, but uv trusts only its own roots unless told: the
system's store (UV_SYSTEM_CERTS) and pip's bundle (SSL_CERT_FILE). A login shell carries
neither; setup.sh sets them for its own uv only.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Mapping


@functools.cache
def pip_cert() -> str | None:
    """The CA bundle pip is given, if any, in the order pip ranks its settings (PIP_CERT,
    then `cert` in pip.conf's [install] and [global] sections), as scripts/setup.sh reads it."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, check=False).stdout  # fmt: skip
    settings = dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)
    for key in (":env:.cert", "install.cert", "global.cert"):
        if key in settings:
            return settings[key].strip("'")
    return None


def index_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """`environment` with uv's certificate settings added where it has none of its own."""
    added = dict(environment)
    added.setdefault("UV_SYSTEM_CERTS", "true")
    if "SSL_CERT_FILE" not in added and (cert := pip_cert()):
        added["SSL_CERT_FILE"] = cert
    return added

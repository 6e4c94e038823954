"""The host side of a debugger's connection: which port on 127.0.0.1, and its forward."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from mlmax.localmode.debug.command import DEBUGPY_PORT
from mlmax.localmode.debug.errors import (
    INSPECT_FLAGS,
    DebugFlags,
    InspectError,
    InspectPortBusyError,
)
from mlmax.localmode.engine import LOOPBACK, free_port, port_is_free

if TYPE_CHECKING:
    from mlmax.localmode.debug.relay import PortForward

# The host port on 127.0.0.1: debugpy's own number, the one VS Code's usual attach config and
# the generated launch.json connect to.
DEFAULT_INSPECT_PORT = DEBUGPY_PORT


def resolve_host_port(port: int, flags: DebugFlags = INSPECT_FLAGS) -> int:
    """`port` if free, a free one for 0; InspectPortBusyError if taken."""
    if port == 0:
        return free_port()
    if not 0 < port < 65536:
        raise InspectError(f"{flags.port} must be between 0 and 65535, not {port}")
    if not port_is_free(port):
        raise InspectPortBusyError(port, flags)
    return port


def open_forward(port: int, flags: DebugFlags = INSPECT_FLAGS) -> PortForward:
    """A PortForward from the host's 127.0.0.1:`port` (0 = free) to debugpy in the container."""
    from mlmax.localmode.debug.relay import PortForward, can_identify_peers

    if not can_identify_peers():
        raise InspectError(
            f"this system has no socket table (/proc/net/tcp) to tell which user connects to "
            f"{LOOPBACK}, so mlmax opens no debug port that every local user could reach; "
            "debug from Linux, e.g. in the workspace's dev container"
        )
    try:
        return PortForward(port, DEBUGPY_PORT)
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            raise InspectPortBusyError(port, flags) from None
        raise

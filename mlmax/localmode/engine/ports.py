"""Ports on the host's 127.0.0.1: one rule for "free", shared by every check and every bind.

A port is free when a socket with SO_REUSEADDR can bind it: a port in TIME_WAIT (a debug
session or endpoint that just closed) is usable, a listening one is not. The forwarder binds
the same way (`bind_loopback`), so a check and the bind after it never disagree.
"""

from __future__ import annotations

import errno
import socket

LOOPBACK = "127.0.0.1"


def bind_loopback(port: int, host: str = LOOPBACK) -> socket.socket:
    """A TCP socket bound to `host`:`port` (0: one the OS picks); OSError if it cannot be."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR: a port in TIME_WAIT is usable; a listening one still is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether `port` can be bound on `host` right now (what a forwarder or docker-proxy does)."""
    try:
        bind_loopback(port, host).close()
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel considers free right now."""
    with bind_loopback(0, host) as probe:
        return int(probe.getsockname()[1])

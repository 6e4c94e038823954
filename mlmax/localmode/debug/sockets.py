"""Reading a container's TCP sockets from its own ``/proc/net/tcp``, never by connecting.

A probe that reaches debugpy and hangs up makes it stop accepting the real client (the next
``initialize`` is never answered), so readiness and "a debugger is attached" are read from
the socket table instead.
"""

from __future__ import annotations

from typing import Any

# TCP states in /proc/net/tcp (include/net/tcp_states.h).
_TCP_ESTABLISHED = 0x01
_TCP_LISTEN = 0x0A


def parse_socket_table(text: str) -> list[tuple[int, int]]:
    """(local port, state) of every row of /proc/net/tcp{,6} output."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1] or fields[0] == "sl":
            continue
        try:
            port = int(fields[1].rsplit(":", 1)[1], 16)
            state = int(fields[3], 16)
        except ValueError:
            continue
        rows.append((port, state))
    return rows


def container_sockets(container: Any) -> list[tuple[int, int]] | None:
    """The container's TCP sockets; None once it is gone or no longer running."""
    from docker.errors import APIError

    try:
        container.reload()
        if container.status == "created":  # compose created it, has not started it yet
            return []
        if container.status != "running":
            return None
        # `cat` of both tables; tcp6 may be absent (IPv6 disabled): keep what was printed.
        result = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], demux=False)
    except APIError as error:  # removed (404); anything else: not readable yet, poll again
        return None if getattr(error, "status_code", None) == 404 else []
    except OSError:  # the engine's socket hiccupped (requests' errors are OSErrors): poll again
        return []
    return parse_socket_table((result.output or b"").decode("ascii", errors="replace"))


def is_listening(rows: list[tuple[int, int]], port: int) -> bool:
    return any(p == port and s == _TCP_LISTEN for p, s in rows)


def has_client(rows: list[tuple[int, int]], port: int) -> bool:
    return any(p == port and s == _TCP_ESTABLISHED for p, s in rows)

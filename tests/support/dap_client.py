"""A small, real Debug Adapter Protocol client over TCP, for tests.

It speaks debugpy's wire protocol (``Content-Length`` framed JSON) the way VS Code does when
it attaches: ``initialize``, ``attach`` (whose response debugpy sends only after
``configurationDone``), the ``initialized`` event, ``setBreakpoints``, ``configurationDone``,
then ``stopped`` events, ``stackTrace`` / ``scopes`` / ``variables`` / ``evaluate`` and
``continue``.

A reader thread files every incoming message: responses by request sequence number, events in
arrival order, so a test can wait for either with a deadline and never sleeps. Reverse
requests (``runInTerminal``, ``startDebugging``) go to handlers the test registers in
``on_request``, and are answered with what the handler returns, as VS Code answers them.

Over TCP (attaching to a listening debugpy) with `connect`, or over a debug adapter's
stdin/stdout (``python -m debugpy.adapter``, as VS Code launches it) with `over_process`.

Typical use::

    with DapClient.connect("127.0.0.1", port, timeout=30) as dap:
        dap.initialize()
        attach = dap.attach(path_mappings=[{"localRoot": ..., "remoteRoot": ...}])
        dap.wait_event("initialized", timeout=10)
        dap.set_breakpoints("/repo/mlmax_census/jobs/train.py", [42])
        dap.configuration_done()
        dap.wait_response(attach, timeout=10)
        stopped = dap.wait_event("stopped", timeout=60)
        frame = dap.stack_trace(stopped["body"]["threadId"])[0]
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

Message = dict[str, Any]


class DapError(RuntimeError):
    """A request failed, the connection closed, or something did not arrive in time."""


class _SocketStream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class _PipeStream:
    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self.reader = reader
        self.writer = writer

    def write(self, data: bytes) -> None:
        self.writer.write(data)
        self.writer.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.writer.close()


class DapClient:
    """One DAP session over one TCP connection or one adapter process's stdio."""

    def __init__(self, stream: socket.socket | _PipeStream) -> None:
        self._stream = _SocketStream(stream) if isinstance(stream, socket.socket) else stream
        # Reverse requests: command -> handler(arguments) returning the response body.
        self.on_request: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {}
        self.reverse_requests: list[Message] = []
        self._seq = itertools.count(1)
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._responses: dict[int, Message] = {}
        self._events: list[Message] = []
        self._next_event = 0  # index of the first event wait_event has not consumed
        self._closed: str | None = None
        self._reader = threading.Thread(target=self._read_loop, name="dap-reader", daemon=True)
        self._reader.start()

    # -- connection ---------------------------------------------------------------------------

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 30.0, retry: bool = True) -> DapClient:
        """Connect and complete the ``initialize`` handshake.

        Right after a container starts, docker-proxy accepts TCP connections before debugpy
        listens, then drops them. So a connection only counts once debugpy has answered
        ``initialize``; with ``retry`` failures are retried until ``timeout`` runs out.
        """
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DapError(
                    f"could not open a DAP session with {host}:{port} within {timeout:.0f} s "
                    f"(last error: {last_error})"
                )
            client: DapClient | None = None
            try:
                sock = socket.create_connection((host, port), timeout=min(remaining, 5.0))
                sock.settimeout(None)
                client = cls(sock)
                client.initialize(timeout=min(remaining, 10.0))
                return client
            except (OSError, DapError) as error:
                last_error = error
                if client is not None:
                    client.close()
                if not retry:
                    raise DapError(
                        f"could not open a DAP session with {host}:{port}: {error}"
                    ) from error
                time.sleep(0.1)  # poll interval between attempts, bounded by the deadline

    @classmethod
    def over_process(cls, process: subprocess.Popen[bytes]) -> DapClient:
        """Speak DAP over a started adapter's stdin/stdout (e.g. `python -m debugpy.adapter`)."""
        assert process.stdin is not None and process.stdout is not None
        return cls(_PipeStream(process.stdout, process.stdin))

    def close(self) -> None:
        self._stream.close()
        self._reader.join(timeout=5)

    def __enter__(self) -> DapClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wire ---------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        reader = self._stream.reader
        reason = "connection closed by the debug adapter"
        try:
            while True:
                length = None
                while True:
                    line = reader.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length is None:
                    continue
                body = reader.read(length)
                if len(body) < length:
                    return
                self._file(json.loads(body))
        except (OSError, ValueError) as error:
            reason = f"connection lost: {error}"
        finally:
            with self._cond:
                self._closed = reason
                self._cond.notify_all()

    def _file(self, message: Message) -> None:
        with self._cond:
            if message.get("type") == "response":
                self._responses[message["request_seq"]] = message
            elif message.get("type") == "event":
                self._events.append(message)
            elif message.get("type") == "request":
                self.reverse_requests.append(message)
                # Answered off the reader thread: a handler may itself wait for messages.
                threading.Thread(target=self._answer, args=(message,), daemon=True).start()
            self._cond.notify_all()

    def _answer(self, request: Message) -> None:
        handler = self.on_request.get(request["command"])
        response: Message = {
            "seq": next(self._seq),
            "type": "response",
            "request_seq": request["seq"],
            "command": request["command"],
            "success": handler is not None,
        }
        if handler is None:
            response["message"] = f"this client does not handle {request['command']!r}"
        else:
            try:
                response["body"] = handler(request.get("arguments") or {}) or {}
            except Exception as error:  # the adapter gets the failure, as from VS Code
                response.update(success=False, message=str(error))
        self._write(response)

    def _write(self, message: Message) -> None:
        data = json.dumps(message).encode()
        with self._send_lock:
            try:
                self._stream.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
            except (OSError, ValueError) as error:
                raise DapError(f"could not send {message.get('command')!r}: {error}") from error

    def send(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        """Send a request without waiting; returns its sequence number."""
        seq = next(self._seq)
        message: Message = {"seq": seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self._write(message)
        return seq

    def _wait(self, found: Callable[[], Message | None], what: str, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                message = found()
                if message is not None:
                    return message
                if self._closed is not None:
                    raise DapError(f"{self._closed} while waiting for {what}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DapError(f"no {what} within {timeout:.0f} s")
                self._cond.wait(remaining)

    def wait_response(self, seq: int, timeout: float = 30.0) -> Message:
        """Wait for the response to request ``seq``; raise DapError if it failed."""
        response = self._wait(lambda: self._responses.pop(seq, None), f"response #{seq}", timeout)
        if not response.get("success"):
            raise DapError(
                f"{response.get('command')} failed: {response.get('message')} "
                f"{response.get('body') or ''}".strip()
            )
        return response

    def request(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send a request, wait for its response, return the response body."""
        return self.wait_response(self.send(command, arguments), timeout).get("body") or {}

    def wait_event(
        self,
        event: str | tuple[str, ...],
        timeout: float = 30.0,
        predicate: Callable[[Message], bool] | None = None,
    ) -> Message:
        """Wait for the next ``event`` (matching ``predicate``) not yet returned by this method.

        Events are consumed in order: earlier events of other kinds are skipped over, so a
        second ``wait_event("stopped")`` waits for the next stop, not the first one again.
        """

        def found() -> Message | None:
            for index in range(self._next_event, len(self._events)):
                message = self._events[index]
                names = (event,) if isinstance(event, str) else event
                if message.get("event") in names and (predicate is None or predicate(message)):
                    self._next_event = index + 1
                    return message
            return None

        return self._wait(found, f"{event!r} event", timeout)

    @property
    def events(self) -> list[Message]:
        """Every event received so far (a copy)."""
        with self._cond:
            return list(self._events)

    # -- the requests VS Code makes when attaching ----------------------------------------------

    def initialize(self, timeout: float = 10.0, **capabilities: Any) -> dict[str, Any]:
        """`capabilities` add to the client's (e.g. supportsStartDebuggingRequest=True)."""
        return self.request(
            "initialize",
            {
                "clientID": "mlmax-tests",
                "adapterID": "debugpy",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
                "supportsVariableType": True,
                **capabilities,
            },
            timeout,
        )

    def attach(self, path_mappings: list[dict[str, str]] | None = None, **options: Any) -> int:
        """Send ``attach``; returns its sequence number (debugpy answers after configDone)."""
        arguments: dict[str, Any] = {"justMyCode": True, **options}
        if path_mappings:
            arguments["pathMappings"] = path_mappings
        return self.send("attach", arguments)

    def set_breakpoints(self, path: str | Path, lines: list[int]) -> list[dict[str, Any]]:
        body = self.request(
            "setBreakpoints",
            {
                "source": {"path": str(path), "name": Path(path).name},
                "breakpoints": [{"line": line} for line in lines],
                "lines": lines,
            },
        )
        return body.get("breakpoints", [])

    def set_exception_breakpoints(self, filters: list[str]) -> None:
        """E.g. ["uncaught"], the filter VS Code's Python debugger has on by default."""
        self.request("setExceptionBreakpoints", {"filters": filters})

    def configuration_done(self) -> None:
        self.request("configurationDone")

    def stack_trace(self, thread_id: int) -> list[dict[str, Any]]:
        return self.request("stackTrace", {"threadId": thread_id}).get("stackFrames", [])

    def scopes(self, frame_id: int) -> list[dict[str, Any]]:
        return self.request("scopes", {"frameId": frame_id}).get("scopes", [])

    def variables(self, reference: int) -> list[dict[str, Any]]:
        return self.request("variables", {"variablesReference": reference}).get("variables", [])

    def locals(self, frame_id: int) -> dict[str, str]:
        """The frame's local variables as name -> repr string."""
        for scope in self.scopes(frame_id):
            if scope.get("name") == "Locals":
                return {v["name"]: v["value"] for v in self.variables(scope["variablesReference"])}
        raise DapError(f"frame {frame_id} has no Locals scope")

    def evaluate(self, expression: str, frame_id: int, context: str = "repl") -> str:
        body = self.request(
            "evaluate", {"expression": expression, "frameId": frame_id, "context": context}
        )
        return body.get("result", "")

    def continue_(self, thread_id: int | None = None) -> None:
        self.request("continue", {"threadId": thread_id or 0})

    def disconnect(self, terminate: bool = False, timeout: float = 10.0) -> None:
        """End the session; the debuggee keeps running unless ``terminate``."""
        with contextlib.suppress(DapError):
            self.request("disconnect", {"terminateDebuggee": terminate}, timeout)

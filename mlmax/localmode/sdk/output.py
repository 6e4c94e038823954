"""Where the SDK echoes compose's output: the terminal, or a stream the caller names.

Local Mode's SDK streams every line docker-compose prints to `sys.stdout`, from the thread
that runs the job. mlmax reads a job's log back from its containers, so a run that keeps
the terminal for mlmax's own lines names another stream with `sdk_output_to`, for the SDK
calls started inside the block (the context reaches the run's `SdkThread`). Nothing else in
the process is touched: `sys.stdout` stays what it is, and runs that name no stream echo as
the SDK does. The SDK's `_stream_output` is reached (and its body pinned) through
`mlmax.localmode.sdk.internals`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from mlmax.localmode.sdk import internals as sdk_internals

_MARK = "_mlmax_output_stream"
_stream: contextvars.ContextVar[TextIO | None] = contextvars.ContextVar(
    "mlmax_sdk_output", default=None
)
# Exit codes the SDK accepts from compose: 130 is compose stopped by an interrupt.
_ACCEPTED_EXIT_CODES = (0, 130)


@contextlib.contextmanager
def sdk_output_to(stream: TextIO) -> Iterator[None]:
    """The SDK calls started in the block echo compose's output to `stream`."""
    token = _stream.set(stream)
    try:
        yield
    finally:
        _stream.reset(token)


def _stream_to(process: Any, stream: TextIO) -> int:
    # The SDK's loop, writing to `stream` instead of sys.stdout, and then what the process
    # wrote before it exited that the loop had not read yet: the SDK's own loop stops at the
    # exit and drops those last lines (often the container's last words).
    exit_code = None
    while exit_code is None:
        stream.write(process.stdout.readline().decode("utf-8"))
        exit_code = process.poll()
    stream.write(process.stdout.read().decode("utf-8"))
    if exit_code not in _ACCEPTED_EXIT_CODES:
        raise RuntimeError(f"Failed to run: {process.args}. Process exited with code: {exit_code}")
    return int(exit_code)


def _to_named_stream(original: Callable[[Any], int]) -> Callable[[Any], int]:
    def stream_output(process: Any) -> int:
        stream = _stream.get()
        return original(process) if stream is None else _stream_to(process, stream)

    return stream_output


def echo_to_named_streams() -> None:
    """Wrap the SDK's `_stream_output` where its containers run (idempotent)."""
    for hook in sdk_internals.STREAM_OUTPUT:
        sdk_internals.wrap(hook, _to_named_stream, mark=_MARK)

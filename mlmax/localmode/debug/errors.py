"""The errors of a debug run, worded with the flags the user typed (pytest's or the CLI's)."""

from __future__ import annotations

from dataclasses import dataclass

from mlmax.localmode.engine import LOOPBACK
from mlmax.localmode.errors import LocalModeError


@dataclass(frozen=True)
class DebugFlags:
    """The options the user typed for the port and the wait: messages name these."""

    port: str
    wait: str


INSPECT_FLAGS = DebugFlags(port="--inspect-port", wait="--inspect-timeout")  # pytest
DEBUG_COMMAND_FLAGS = DebugFlags(port="--port", wait="--wait-timeout")  # `mlmax debug`
SERVE_COMMAND_FLAGS = DebugFlags(port="--debug-port", wait="--timeout")  # `mlmax serve`


class InspectError(LocalModeError):
    """Inspect mode could not start or complete."""


class InspectPortBusyError(InspectError):
    def __init__(self, port: int, flags: DebugFlags = INSPECT_FLAGS) -> None:
        self.port = port
        super().__init__(
            f"port {port} on {LOOPBACK} is already in use, so the debugger cannot listen there; "
            f"choose another with {flags.port} NUMBER, or {flags.port} 0 to pick a free one"
        )


class DebuggerNotAttachedError(InspectError):
    def __init__(
        self, job: str, port: int, wait_timeout: float, flags: DebugFlags = INSPECT_FLAGS
    ) -> None:
        self.job = job
        self.port = port
        self.wait_timeout = wait_timeout
        super().__init__(
            f"no debugger attached to job {job!r} on {LOOPBACK}:{port} within "
            f"{wait_timeout:g} s, so the job was stopped and its container removed; attach "
            f"sooner or raise the wait ({flags.wait} SECONDS)"
        )

"""One SDK call whose container runs under debugpy: forwarded, watched, its errors worded.

What `sm_session`'s own SDK objects and a pipeline's steps share: the forward on the host's
127.0.0.1 to debugpy in the container, the `ReadyWatch` that announces it and enforces the
wait, and the call's failure told as what it was when the watch is why (no debugger attached
in time, or the container lost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlmax.localmode.debug.command import DebugOptions
from mlmax.localmode.debug.errors import (
    INSPECT_FLAGS,
    DebugFlags,
    DebuggerNotAttachedError,
    InspectError,
)
from mlmax.localmode.debug.forward import open_forward
from mlmax.localmode.debug.readiness import ReadyInfo, ReadyWatch


@dataclass(frozen=True)
class WatchedCall:
    """How the call's container is debugged: `port` on 127.0.0.1 (0: one the OS picks), the
    wait for a debugger, who hears it is ready (and, after `grace` s, that nobody came)."""

    port: int
    wait_timeout: float
    on_ready: Callable[[Any], None] | None = None
    flags: DebugFlags = INSPECT_FLAGS
    grace: float | None = None
    on_grace: Callable[[ReadyInfo], None] | None = None

    def run(
        self,
        call: Callable[[], Any],
        *,
        job: str,
        kind: str,
        options: DebugOptions,
        label: str | None = None,
    ) -> Any:
        """`call()`, whose container (labelled `label`, default `job`) the watch finds."""
        with open_forward(self.port, self.flags) as forward:
            watch = ReadyWatch(
                job=job,
                label=label,
                kind=kind,
                options=options,
                wait_timeout=self.wait_timeout,
                on_ready=self.on_ready,
                forward=forward,
                grace=self.grace,
                on_grace=self.on_grace,
            )
            watch.start()
            try:
                return call()
            except Exception:
                # The SDK reports a stopped container as a failed job: the watch says why.
                if watch.error is not None:
                    raise InspectError(
                        f"inspect mode lost track of {job!r}'s container ({watch.error}); it "
                        "was stopped, run it again"
                    ) from None
                if watch.gave_up:
                    raise DebuggerNotAttachedError(
                        job, forward.port, self.wait_timeout, self.flags
                    ) from None
                raise
            finally:
                watch.stop()

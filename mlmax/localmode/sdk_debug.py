"""Inspect mode for a test's own processors run through `sm_session`.

While `pytest --smlocal --inspectlocal` inspects a test that uses `sm_session`, each
`FrameworkProcessor.run` / `ScriptProcessor.run` of that test runs its entry script the way
mlmax's own debug path does (`mlmax.localmode.debug`): the interpreter command becomes
`DebugOptions.python_command()` (debug_bootstrap, debugpy on the container's loopback), the
image the one `ensure_debugpy_image` derives, a `PortForward` on the host's 127.0.0.1 relays to
it, and the same `_Watch` prints the same ready line and enforces the wait for a debugger. The
processor's own settings are put back after each run.

Only a Python command (`python3`, `python`, ...) can be put under debugpy; a processor that
runs something else (`bash`, `Rscript`) runs unchanged. ModelTrainer is not covered: its
command is a free shell line of the user's (`SourceCode.command`), see the README's limits.
"""

from __future__ import annotations

import contextlib
import functools
import posixpath
import shlex
import time
from collections.abc import Callable, Iterator
from typing import Any

from mlmax.localmode.debug import (
    INSPECT_FLAGS,
    DebugFlags,
    DebuggerNotAttachedError,
    DebugOptions,
    _Watch,
    open_forward,
)

_UNDER_DEBUGGER = "_mlmax_under_debugger"


def runs_python(command: list[str] | None) -> bool:
    """Whether a processor's command starts a Python interpreter debugpy can replace."""
    if not command:
        return False
    program = posixpath.basename(str(command[0]))
    return program.startswith("python") and "-" not in program.removeprefix("python")


@contextlib.contextmanager
def processors_under_debugger(
    *,
    job: str,
    port: int,
    wait_timeout: float,
    on_ready: Callable[[Any], None] | None,
    flags: DebugFlags = INSPECT_FLAGS,
) -> Iterator[None]:
    """For this scope, run every ScriptProcessor/FrameworkProcessor under debugpy.

    `job` is the JOB label of the containers (the one `sm_session` gives them): the watch
    finds the run's container by it. One test is inspected at a time (no xdist), so the SDK's
    classes are patched only for its duration.
    """
    from sagemaker.core.processing import FrameworkProcessor, ScriptProcessor

    from mlmax.localmode.image import ensure_debugpy_image

    def under_debugger(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            # FrameworkProcessor.run calls ScriptProcessor.run: debug the outer call once.
            if getattr(self, _UNDER_DEBUGGER, False) or not runs_python(self.command):
                return original(self, *args, **kwargs)
            options = DebugOptions()
            python = options.python_command()
            saved = (self.command, self.image_uri)
            # FrameworkProcessor joins the command with spaces into its bash entry script
            # (runproc.sh); ScriptProcessor passes it as the container's entrypoint list.
            shell = isinstance(self, FrameworkProcessor)
            self.command = [shlex.quote(part) for part in python] if shell else python
            self.image_uri = ensure_debugpy_image(str(self.image_uri))
            setattr(self, _UNDER_DEBUGGER, True)
            try:
                with open_forward(port, flags) as forward:
                    watch = _Watch(
                        job=job,
                        kind="processing",
                        options=options,
                        wait_timeout=wait_timeout,
                        on_ready=on_ready,
                        started=time.monotonic(),
                        forward=forward,
                    )
                    watch.start()
                    try:
                        return original(self, *args, **kwargs)
                    except Exception:
                        if watch.gave_up:
                            raise DebuggerNotAttachedError(
                                job, forward.port, wait_timeout, flags
                            ) from None
                        raise
                    finally:
                        watch.stop()
            finally:
                self.command, self.image_uri = saved
                setattr(self, _UNDER_DEBUGGER, False)

        return run

    originals = {cls: cls.__dict__["run"] for cls in (ScriptProcessor, FrameworkProcessor)}
    try:
        for cls, original in originals.items():
            setattr(cls, "run", under_debugger(original))  # noqa: B010 - restored below
        yield
    finally:
        for cls, original in originals.items():
            setattr(cls, "run", original)  # noqa: B010

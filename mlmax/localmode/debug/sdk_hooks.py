"""Inspect mode for a test's own SDK objects run through `sm_session`.

While `pytest --smlocal --inspectlocal` inspects a test that uses `sm_session`, each
`FrameworkProcessor.run` / `ScriptProcessor.run` / `ModelTrainer.train` of that test runs its
entry script the way
mlmax's own debug path does (`mlmax.localmode.run.debug_run`): the interpreter command becomes
`DebugOptions.python_command()` (debug_bootstrap, debugpy on the container's loopback), the
image the one `ensure_debugpy_image` derives, a `PortForward` on the host's 127.0.0.1 relays to
it, and the same `ReadyWatch` prints the same ready line and enforces the wait for a debugger. The
object's own command and image are put back after each run.

Only a Python command (`python3 script.py`, `python`, ...) can be put under debugpy; one that
runs something else (`bash run.sh`, `Rscript`, a shell line with `&&`) runs unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import posixpath
import shlex
from collections.abc import Callable, Iterator
from typing import Any

from mlmax.localmode.debug.command import DebugOptions
from mlmax.localmode.debug.errors import INSPECT_FLAGS, DebugFlags
from mlmax.localmode.debug.watched import WatchedCall
from mlmax.localmode.sdk import DEBUG_PROCESSOR_RUNS, DEBUG_TRAINER_TRAIN, patched

_UNDER_DEBUGGER = "_mlmax_under_debugger"
# A trainer's command is a shell line: one that chains commands is left alone.
_SHELL = {"&&", "||", ";", "|", ">", "<"}


def runs_python(command: list[str] | None) -> bool:
    """Whether a processor's command starts a Python interpreter debugpy can replace."""
    if not command:
        return False
    program = posixpath.basename(str(command[0]))
    return program.startswith("python") and "-" not in program.removeprefix("python")


def trainer_script(command: str | None) -> list[str] | None:
    """The script and its arguments of a trainer's `python3 script.py args` command.

    None for anything debugpy cannot take the place of the interpreter in: another
    program, interpreter flags or `-m` before the script, a shell line chaining commands.
    """
    try:
        parts = shlex.split(command or "")
    except ValueError:  # unbalanced quotes: the SDK reports the command as it is
        return None
    if not runs_python(parts) or len(parts) < 2 or parts[1].startswith("-"):
        return None
    if _SHELL.intersection(parts):
        return None
    return parts[1:]


@contextlib.contextmanager
def sdk_objects_under_debugger(
    *,
    job: str,
    port: int,
    wait_timeout: float,
    on_ready: Callable[[Any], None] | None,
    flags: DebugFlags = INSPECT_FLAGS,
) -> Iterator[None]:
    """For this scope, run every ScriptProcessor/FrameworkProcessor/ModelTrainer under debugpy.

    `job` is the JOB label of the containers (the one `sm_session` gives them): the watch
    finds the run's container by it. One test is inspected at a time (no xdist), so the SDK's
    classes are patched (through `mlmax.localmode.sdk.internals`) only for its duration.
    """
    from sagemaker.core.processing import FrameworkProcessor

    watched = WatchedCall(port, wait_timeout, on_ready, flags)

    def processor_run(original: Callable[..., Any]) -> Callable[..., Any]:
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
            self.image_uri = _debug_image(self.image_uri)
            setattr(self, _UNDER_DEBUGGER, True)
            try:
                call = functools.partial(original, self, *args, **kwargs)
                return watched.run(call, job=job, kind="processing", options=options)
            finally:
                self.command, self.image_uri = saved
                setattr(self, _UNDER_DEBUGGER, False)

        return run

    def trainer_train(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def train(self: Any, *args: Any, **kwargs: Any) -> Any:
            source = self.source_code
            script_and_args = trainer_script(source.command if source else None)
            if script_and_args is None:
                return original(self, *args, **kwargs)
            # No code alias: the user maps the training code root to their source_dir.
            options = DebugOptions(code_alias=None)
            # The SDK splits the command on whitespace: each quoted part has none.
            debugged = [shlex.quote(part) for part in [*options.python_command(), *script_and_args]]
            saved = (source, self.training_image)
            self.source_code = source.model_copy(update={"command": " ".join(debugged)})
            self.training_image = _debug_image(self.training_image)
            try:
                call = functools.partial(original, self, *args, **kwargs)
                return watched.run(call, job=job, kind="training", options=options)
            finally:
                self.source_code, self.training_image = saved

        return train

    with contextlib.ExitStack() as patches:
        for hook in DEBUG_PROCESSOR_RUNS:
            patches.enter_context(patched(hook, processor_run))
        trainer = DEBUG_TRAINER_TRAIN
        patches.enter_context(patched(trainer, trainer_train))
        yield


def _debug_image(image: Any) -> str:
    from mlmax.localmode.image import ensure_debugpy_image

    return ensure_debugpy_image(str(image))

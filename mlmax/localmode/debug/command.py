"""How a job's interpreter starts under a debugger: the command that replaces `python3`.

- ``debugpy``: the job's script runs under debugpy listening on the CONTAINER's loopback
  (127.0.0.1:5678, ``--wait-for-client``), started by `debug_bootstrap` so the job's heavy
  imports are done before a debugger attaches. Nothing is published: a `PortForward` on the
  host's 127.0.0.1 relays into the container (see `forward`).
- ``repl``: the script runs under ``python3 -i`` in the (tty) container.

Only the standard library and mlmax.project: what builds a job's command (a Local Mode run,
the pytest plugin) can import it without pulling in Docker or the SDK.
"""

from __future__ import annotations

import base64
import posixpath
import shlex
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlmax.project import TRAINING_CODE_ROOT

DEBUGPY_PORT = 5678  # where debugpy listens inside the container
DEBUGPY_HOST = "127.0.0.1"  # inside the container: only the forwarder's relay reaches it
DEFAULT_WAIT_TIMEOUT = 300.0  # seconds to wait for a debugger to connect

InspectMode = Literal["debugpy", "repl"]
INSPECT_MODES: tuple[InspectMode, ...] = ("debugpy", "repl")


@dataclass(frozen=True)
class DebugOptions:
    """How the runner starts the job's interpreter (nothing is published: see PortForward)."""

    container_port: int = DEBUGPY_PORT
    wait_for_client: bool = True
    mode: InspectMode = "debugpy"
    # A path to create as a symlink to `code_root` before the job starts (training jobs).
    # debugpy maps a breakpoint's workspace path through the FIRST pathMapping with that
    # localRoot (the processing root in VS Code's config) and then compares real paths: with
    # the processing root linked to the training root, one attach config serves both kinds.
    code_alias: str | None = None
    code_root: str = TRAINING_CODE_ROOT

    def python_command(self) -> list[str]:
        """The interpreter command that replaces plain `python3`."""
        if self.mode == "repl":
            return ["python3", "-i"]
        # Frozen stdlib modules make debugpy warn and may miss breakpoints (Python >= 3.11);
        # older interpreters ignore unknown -X options.
        command = ["python3", "-Xfrozen_modules=off", "-c", _bootstrap_source()]
        command += ["--listen", f"{DEBUGPY_HOST}:{self.container_port}"]
        if self.wait_for_client:
            command.append("--wait-for-client")
        if self.code_alias:
            link = (
                f"mkdir -p {shlex.quote(posixpath.dirname(self.code_alias))} && "
                f"ln -sfn {shlex.quote(self.code_root)} {shlex.quote(self.code_alias)} && "
                'exec "$0" "$@"'
            )
            command = ["sh", "-c", link, *command]
        return command


BOOTSTRAP = Path(__file__).with_name("bootstrap.py")


def _bootstrap_source() -> str:
    """debug_bootstrap for `python3 -c` (the image has no mlmax), as ONE shell-safe line.

    The SDK's entry scripts join the command into one line of shell (training even folds its
    newlines), so the source travels compressed and base64-encoded.
    """
    packed = base64.b64encode(zlib.compress(BOOTSTRAP.read_bytes(), 9)).decode("ascii")
    return f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{packed}')))"

"""Put the step's script under debugpy from inside its container (runs as `sitecustomize`).

A pipeline step's container command was fixed when the project built its pipeline: a
processor's `python3 script.py`, or a trainer's bash driver that later starts `python3
train.py` itself. So mlmax does not rewrite that command; the step's container gets this
module as `sitecustomize` on its PYTHONPATH (`mlmax.localmode.debug.step_command`), and every
Python process of the container imports it first. The first one whose script lies under the
step's code root (MLMAX_DEBUG_CODE_ROOT) runs, instead of the script, the interpreter command
of `DebugOptions.python_command()` (MLMAX_DEBUG_INTERPRETER, JSON) with the same script and
arguments, relays its output and exits with its code: the driver that started it waits on
it as before. Every other process (the SDK's drivers, the debug adapter) goes on untouched,
and then imports the `sitecustomize` this module hides (the image's own), as it would have.

Standard library only: it runs in the job's interpreter, which has no mlmax.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import subprocess
import sys

CODE_ROOT = "MLMAX_DEBUG_CODE_ROOT"
INTERPRETER = "MLMAX_DEBUG_INTERPRETER"
STARTED = "MLMAX_DEBUG_STARTED"
# How soon the relay notices that the script has ended while its output pipe stays open.
POLL_SECONDS = 0.2


def is_step_script(script: str, code_root: str) -> bool:
    """Whether `script` (a process's sys.argv[0]) is a file under `code_root`."""
    if not script or script.startswith("-") or not os.path.isfile(script):
        return False
    root = os.path.realpath(code_root)
    return os.path.realpath(script).startswith(root + os.sep)


def launch() -> None:
    """Run this process's script under debugpy instead (once), then exit with its code."""
    code_root = os.environ.get(CODE_ROOT)
    script = sys.argv[0] if sys.argv else ""
    if not code_root or os.environ.get(STARTED) or not is_step_script(script, code_root):
        return
    # The script's own child processes (multiprocessing, a second script) run as they are.
    os.environ[STARTED] = "1"
    interpreter = json.loads(os.environ[INTERPRETER])
    sys.stdout.flush()
    sys.stderr.flush()
    code = relay([sys.executable, *interpreter, script, *sys.argv[1:]])
    # Not sys.exit: SystemExit while `site` imports this module is a fatal error of Python's
    # start-up, not an exit code.
    os._exit(code)


def relay(command: list[str]) -> int:
    """Run `command`, copying its output to this process's stdout until it exits.

    Not exec: debugpy's adapter, which the debugged script starts, inherits the script's
    stdout and outlives it until its debugger disconnects. A driver that reads the script's
    output until the end (the trainer's basic_script_driver) would then wait for that
    debugger; here the output ends when the script does.
    """
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    source, out = child.stdout.fileno(), sys.stdout.buffer
    while True:
        readable, _, _ = select.select([source], [], [], POLL_SECONDS)
        if readable:
            data = os.read(source, 65536)
            if not data:
                break
            out.write(data)
            out.flush()
        elif child.poll() is not None:
            break
    return child.wait()


def import_hidden_sitecustomize() -> None:
    """Import the `sitecustomize` this module stands in front of, if there is one."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    own = sys.modules.pop("sitecustomize", None)
    try:
        importlib.import_module("sitecustomize")
    except ImportError:
        # None hidden: `site`'s import of this module must still find it.
        if own is not None:
            sys.modules["sitecustomize"] = own
    finally:
        sys.path[:] = saved


if __name__ == "sitecustomize":  # in the step's container; mlmax only reads this file
    launch()
    import_hidden_sitecustomize()

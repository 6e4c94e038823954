"""Put the step's script under debugpy from inside its container (runs as `sitecustomize`).

A pipeline step's container command was fixed when the project built its pipeline: a
processor's `python3 script.py`, or a trainer's bash driver that later starts `python3
train.py` itself. So mlmax does not rewrite that command; the step's container gets this
module as `sitecustomize` on its PYTHONPATH (`mlmax.localmode.debug.step_command`), and every
Python process of the container imports it first. The first one whose script lies under the
step's code root (MLMAX_DEBUG_CODE_ROOT) replaces itself, same pid and streams, by the
interpreter command of `DebugOptions.python_command()` (MLMAX_DEBUG_INTERPRETER, JSON) with
the same script and arguments: the driver that started it waits on it as before. Every other
process (the SDK's drivers, the debug adapter) goes on untouched, and then imports the
`sitecustomize` this module hides (the image's own), as it would have.

Standard library only: it runs in the job's interpreter, which has no mlmax.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

CODE_ROOT = "MLMAX_DEBUG_CODE_ROOT"
INTERPRETER = "MLMAX_DEBUG_INTERPRETER"
STARTED = "MLMAX_DEBUG_STARTED"


def is_step_script(script: str, code_root: str) -> bool:
    """Whether `script` (a process's sys.argv[0]) is a file under `code_root`."""
    if not script or script.startswith("-") or not os.path.isfile(script):
        return False
    root = os.path.realpath(code_root)
    return os.path.realpath(script).startswith(root + os.sep)


def launch() -> None:
    """Re-execute this process under debugpy if it runs the step's script (once)."""
    code_root = os.environ.get(CODE_ROOT)
    script = sys.argv[0] if sys.argv else ""
    if not code_root or os.environ.get(STARTED) or not is_step_script(script, code_root):
        return
    # The script's own child processes (multiprocessing, a second script) run as they are.
    os.environ[STARTED] = "1"
    interpreter = json.loads(os.environ[INTERPRETER])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *interpreter, script, *sys.argv[1:]])


def import_hidden_sitecustomize() -> None:
    """Import the `sitecustomize` this module stands in front of, if there is one."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.modules.pop("sitecustomize", None)
    try:
        importlib.import_module("sitecustomize")
    except ImportError:
        pass
    finally:
        sys.path[:] = saved


if __name__ == "sitecustomize":  # in the step's container; mlmax only reads this file
    launch()
    import_hidden_sitecustomize()

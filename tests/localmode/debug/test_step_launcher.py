"""The step launcher as the `sitecustomize` of a real interpreter (no container needed): the
first process running a script from the code root runs the debug interpreter command instead,
its output relayed and its exit code kept, even while a process it started holds the output
pipe open (as debugpy's adapter does); a script elsewhere runs untouched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from mlmax.localmode.debug.step_command import LAUNCHER
from mlmax.localmode.debug.step_launcher import CODE_ROOT, INTERPRETER, STARTED

# Stands in for the debug bootstrap: says it ran, starts a process that keeps the output pipe
# open for a minute (debugpy's adapter outlives its script; its pid goes to LINGERING), then
# runs the script.
INTERPRETER_ARGS = [
    "-c",
    "import os, runpy, subprocess, sys; print('under the debug command', flush=True); "
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "open(os.environ['LINGERING'], 'w').write(str(p.pid)); "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
]
SCRIPT = "import sys\nprint('script', sys.argv[1:])\nsys.exit(4)\n"


def _run(tmp_path: Path, script: Path) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    shutil.copy(LAUNCHER, site / "sitecustomize.py")
    env = {k: v for k, v in os.environ.items() if k != STARTED}
    env.update(
        LINGERING=str(tmp_path / "lingering.pid"),
        PYTHONPATH=str(site),
        **{CODE_ROOT: str(tmp_path / "code"), INTERPRETER: json.dumps(INTERPRETER_ARGS)},
    )
    return subprocess.run(
        [sys.executable, str(script), "a", "b"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_a_script_from_the_code_root_runs_under_the_debug_command(tmp_path):
    (tmp_path / "code").mkdir()
    script = tmp_path / "code" / "train.py"
    script.write_text(SCRIPT)
    try:
        done = _run(tmp_path, script)  # within 30 s: the lingering process does not hold it
    finally:
        lingering = int((tmp_path / "lingering.pid").read_text())
        os.kill(lingering, signal.SIGKILL)
    assert done.returncode == 4, done.stderr
    assert done.stdout.splitlines() == ["under the debug command", "script ['a', 'b']"]
    assert "Error in sitecustomize" not in done.stderr


def test_a_script_elsewhere_runs_as_it_is(tmp_path):
    (tmp_path / "code").mkdir()
    script = tmp_path / "driver.py"
    script.write_text(SCRIPT)
    done = _run(tmp_path, script)
    assert done.returncode == 4, done.stderr
    assert done.stdout.splitlines() == ["script ['a', 'b']"]
    assert "Error in sitecustomize" not in done.stderr

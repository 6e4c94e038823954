"""The debug bootstrap: heavy imports before debugpy, and the job sees what `-m debugpy` shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlmax.localmode.debug import bootstrap as debug_bootstrap
from mlmax.localmode.debug.command import DebugOptions
from mlmax.localmode.engine.ports import free_port

SCRIPT = """\
import json, os, sys
import heavypkg
from heavypkg import sub
import helper

def main():
    print(json.dumps({
        "argv": sys.argv,
        "name": __name__,
        "path0": sys.path[0],
        "file": __file__,
        "heavy_before_debugger": heavypkg.DEBUGGER_LOADED is False,
        "helper_under_debugger": helper.DEBUGGER_LOADED,
    }))

if __name__ == "__main__":
    main()
"""
RECORD = "import sys\nDEBUGGER_LOADED = 'pydevd' in sys.modules\n"


def test_script_of_skips_debugpys_options():
    arguments = ["--listen", "127.0.0.1:5678", "--wait-for-client", "job.py", "--c", "0.5"]
    assert debug_bootstrap.script_of(arguments) == "job.py"
    assert debug_bootstrap.script_of(["--listen", "x"]) is None


def test_top_level_imports_are_absolute_top_level_ones_in_order():
    source = (
        "import pandas as pd, numpy\nfrom sklearn.linear_model import LogisticRegression\n"
        "from . import local\nimport pandas\n"
        "def f():\n    import inside\n"
    )
    assert debug_bootstrap.top_level_imports(source) == [
        "pandas",
        "numpy",
        "sklearn.linear_model",
    ]


def _run(tmp_path: Path, command: list[str]) -> dict:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "job.py").write_text(SCRIPT)
    (code / "helper.py").write_text(RECORD)  # the job's own module: imported by the job
    site = tmp_path / "site" / "heavypkg"
    site.mkdir(parents=True, exist_ok=True)
    (site / "__init__.py").write_text(RECORD)
    (site / "sub.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    listen = ["--listen", f"127.0.0.1:{free_port()}"]  # no --wait-for-client: runs at once
    done = subprocess.run(
        [*command, *listen, "job.py", "--c", "0.5"],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_job_sees_what_python_m_debugpy_shows_it_with_its_imports_done_before(tmp_path):
    boot = DebugOptions().python_command()[:4]  # python3 -Xfrozen_modules=off -c SOURCE
    seen = _run(tmp_path, [sys.executable, *boot[1:]])
    reference = _run(tmp_path, [sys.executable, "-Xfrozen_modules=off", "-m", "debugpy"])
    assert seen["heavy_before_debugger"] is True  # imported before debugpy was loaded
    assert reference["heavy_before_debugger"] is False  # without the bootstrap: under it
    for what in ("argv", "name", "path0", "file", "helper_under_debugger"):
        assert seen[what] == reference[what], what
    assert seen["argv"][1:] == ["--c", "0.5"] and seen["name"] == "__main__"
    assert seen["helper_under_debugger"] is True  # the job's own modules are left to it

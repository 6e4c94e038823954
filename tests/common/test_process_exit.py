"""An ending mlmax or pytest process skips the interpreter's last garbage collection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# A reference cycle alive until the interpreter ends: only the exit's last collection
# would reach it (and call its __del__).
CYCLE_AT_EXIT = """
import sys
class Node:
    def __del__(self):
        sys.stdout.write("walked at exit\\n")
        sys.stdout.flush()
node = Node()
node.self = node
{skip}
print("end of script", flush=True)
"""


def _run(skip: str) -> list[str]:
    script = CYCLE_AT_EXIT.format(skip=skip)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_last_collection_is_skipped_once_asked():
    assert _run(skip="") == ["end of script", "walked at exit"]  # the premise
    skip = "from mlmax.common import process_exit; process_exit.skip_the_last_collection()"
    assert _run(skip=skip) == ["end of script"]


# Each in a fresh interpreter: in this one, anything earlier may have asked already.
ASKED_BY = {
    "the mlmax command": "from mlmax.cli import main; main(['--help'])",
    "the pytest plugin": "import pytest; pytest.main(['--collect-only', '-q', {folder!r}])",
}


@pytest.mark.parametrize("caller", ASKED_BY)
def test_the_mlmax_command_and_the_pytest_plugin_ask_for_it(caller: str, tmp_path: Path):
    call = ASKED_BY[caller].format(folder=str(tmp_path))
    script = f"from mlmax.common import process_exit; {call}; print(process_exit._registered)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True"

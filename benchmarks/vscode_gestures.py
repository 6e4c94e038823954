"""How long do the Test Explorer's gestures take? Discovery and Run, as VS Code starts them.

VS Code's Python extension passes `python.testing.pytestArgs` (from .vscode/settings.json) to
both: discovery is `pytest --collect-only <args>`; Run on one test is `pytest <options> <id>`
(the extension drops the positional test paths of pytestArgs for a Run).
This times each (median of --repeats, after one warm-up), discovery also without --smlocal,
and prints a table; the figures go to benchmarks/results/vscode_gestures.json with their
date, commit and load average. The gestures are interleaved, repeat by repeat.

    python benchmarks/vscode_gestures.py [--repeats 5] \
        [--test tests/localmode/run/test_chain.py::...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import json5
from results import RESULTS, Results, Samples  # benchmarks/ is on sys.path as a script

from mlmax.common.tables import render

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TEST = "tests/localmode/run/test_chain.py::test_preprocessing_splits_generated_data"


def workspace_pytest_args() -> list[str]:
    settings = json5.loads((REPO / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    return list(settings["python.testing.pytestArgs"])


def timed_pytest(args: list[str], samples: Samples | None = None) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}")
    return elapsed if samples is None else samples.add(elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--test", default=DEFAULT_TEST, help="the container test to Run")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    options = parser.parse_args(argv)
    results = Results("vscode_gestures", __doc__.splitlines()[0], argv)
    args = workspace_pytest_args()
    plain = [a for a in args if a != "--smlocal"]
    options_only = [a for a in args if a.startswith("-")]
    gestures = {
        f"discovery: --collect-only {' '.join(args)}": ["--collect-only", *args],
        f"discovery: --collect-only {' '.join(plain)}": ["--collect-only", *plain],
        f"Run one container test: {' '.join(options_only)} <id>": [*options_only, options.test],
    }
    for gesture_args in gestures.values():
        timed_pytest(gesture_args)  # warm-up: imports cached, image built once
    # Interleaved, so a change in the machine's load hits every gesture alike.
    times = {name: Samples() for name in gestures}
    for _ in range(options.repeats):
        for name, gesture_args in gestures.items():
            timed_pytest(gesture_args, times[name])
    rows = []
    for name, samples in times.items():
        measured = samples.values
        results.add_median("Test Explorer gestures", name, "median", samples, "s")
        rows.append((name, statistics.median(measured), min(measured), max(measured)))
        print(f"  {name}: {', '.join(f'{t:.2f}' for t in measured)} s", file=sys.stderr)
    results.write(options.results)
    cells = [[name, *(f"{seconds:.2f}" for seconds in figures)] for name, *figures in rows]
    print()
    print(render(["gesture", "median s", "min s", "max s"], cells, right=(1, 2, 3), markdown=True))
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\n{options.repeats} repeats each; load average {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast does the debugger reach the job? Inspect mode and Debug Test, with a real DAP client.

For the preprocessing job of `tests/localmode/run/test_chain.py`, each run in a fresh pytest
process, repeated (median, min, max); the figures go to benchmarks/results/debug_startup.json
with their date, commit and load average (benchmarks/results.py):

- inspect mode (`pytest --smlocal --inspectlocal --inspect-port 0`): pytest start -> ready
  line, and attach (TCP connect to the forward) -> stopped at the first line of `main`;
- Debug Test (the DAP client of `tests/support/vscode_debug.py` playing VS Code): launch ->
  stopped at the first line of `main`, and child-session request -> that stop.

    .venv/bin/python benchmarks/debug_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' DAP client and VS Code driver

from results import RESULTS, Results, Samples  # noqa: E402  (benchmarks/, as a script)

from mlmax.common.tables import render  # noqa: E402
from mlmax.localmode.run.debug_run import path_mappings  # noqa: E402
from mlmax.project.catalog import JOBS_DIR  # noqa: E402
from tests.support.dap_client import DapClient  # noqa: E402
from tests.support.inspect_driver import READY, InspectRun, line_of  # noqa: E402
from tests.support.vscode_debug import DebugTest  # noqa: E402

TEST = "tests/localmode/run/test_chain.py::test_preprocessing_splits_generated_data"
JOB_FILE = JOBS_DIR / "preprocessing.py"
FIRST_LINE_OF_MAIN = line_of(JOB_FILE, "def main(") + 1
TIMEOUT = 600


def _first_stop(dap: DapClient, attach_seq: int | None) -> None:
    """Breakpoint at main's first line, configurationDone, wait until stopped there."""
    dap.wait_event("initialized", timeout=TIMEOUT)
    dap.set_breakpoints(JOB_FILE, [FIRST_LINE_OF_MAIN])
    dap.configuration_done()
    if attach_seq is not None:
        dap.wait_response(attach_seq, timeout=TIMEOUT)
    stopped = dap.wait_event("stopped", timeout=TIMEOUT)
    thread = stopped["body"]["threadId"]
    assert dap.stack_trace(thread)[0]["line"] == FIRST_LINE_OF_MAIN
    dap.set_breakpoints(JOB_FILE, [])
    dap.continue_(thread)


def inspect_once(work: Path) -> dict[str, float]:
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", TEST]
    with InspectRun(args, basetemp=work / "run") as run:
        ready_at, ready = run.wait_for(READY, TIMEOUT)
        started = time.monotonic()
        with DapClient.connect("127.0.0.1", int(ready["port"]), timeout=60) as dap:
            _first_stop(dap, dap.attach(path_mappings=path_mappings(), justMyCode=False))
            stopped = time.monotonic() - started
            dap.wait_event("terminated", timeout=TIMEOUT)
        assert run.wait(TIMEOUT) == 0, run.output
    return {"inspect: pytest start -> ready line": ready_at, "inspect: attach -> main": stopped}


def debug_test_once(work: Path) -> dict[str, float]:
    extra = ["-p", "no:cacheprovider", f"--basetemp={work / 'run'}"]
    started = time.monotonic()
    with DebugTest(TEST, extra, work / "terminal.log") as session:
        session.start()
        configuration = session.next_child_request(TIMEOUT)
        assert configuration is not None, session.output
        requested = time.monotonic()
        connect = configuration["connect"]
        with DapClient.connect(connect["host"], int(connect["port"]), timeout=60) as dap:
            _first_stop(dap, dap.send("attach", configuration))
            stopped = time.monotonic()
            dap.wait_event("terminated", timeout=TIMEOUT)
        assert session.wait_terminal(TIMEOUT) == 0, session.output
    return {
        "Debug Test: launch -> main": stopped - started,
        "Debug Test: child request -> main": stopped - requested,
    }


TABLE = "debugger start-up"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    options = parser.parse_args(argv)
    results = Results("debug_startup", __doc__.splitlines()[0], argv)
    samples: dict[str, Samples] = {}
    runs: list[Callable[[Path], dict[str, float]]] = [inspect_once, debug_test_once]
    for repeat in range(options.repeats):
        for measure in runs:  # interleaved: load changes hit both alike
            with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as work:
                for name, value in measure(Path(work)).items():
                    samples.setdefault(name, Samples()).add(value)
            print(f"run {repeat + 1}/{options.repeats}: {measure.__name__} done", flush=True)
    rows = []
    for name, measured in samples.items():
        results.add_median(TABLE, name, "median", measured, "s")
        v = measured.values
        rows.append([name, f"{statistics.median(v):.2f}", f"{min(v):.2f}", f"{max(v):.2f}", len(v)])
    results.write(options.results)
    headers = ["what", "median s", "min s", "max s", "n"]
    print()
    print(render(headers, rows, right=(1, 2, 3, 4), markdown=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`mlmax debug <job>`: the job in its container under debugpy, a real DAP client attaching.

The same ready line as `pytest --inspectlocal`, the same pathMappings as VS Code's launch
configuration, a breakpoint set by workspace path; the job's outputs are read back after the
debugger lets it finish, and nothing of the run is left.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlmax.data.generator import write_csv
from mlmax.jobs import schema
from mlmax.localmode.engine import containers, labels
from mlmax.localmode.run.debug_run import path_mappings
from mlmax.project.catalog import JOBS_DIR
from tests.support.dap_client import DapClient
from tests.support.inspect_driver import READY, InspectRun, line_of
from tests.support.isolation import assert_debugger_only_on_loopback_forward

pytestmark = pytest.mark.smlocal


def test_debug_command_stops_at_a_breakpoint_then_finishes_the_job(tmp_path: Path) -> None:
    baseline = write_csv(tmp_path / "baseline.csv", rows=400, seed=1)
    new = write_csv(tmp_path / "new.csv", rows=400, seed=2, drift=1.0)
    out = tmp_path / "monitoring"
    job_file = JOBS_DIR / "monitoring.py"
    line = line_of(job_file, "baseline = load_baseline(")  # main's first statement
    run = InspectRun(
        ["debug", "monitoring", "--port", "0", "--wait-timeout", "120",
         "--input", f"baseline={baseline}", "--input", f"data={new}",
         "--output", f"monitoring={out}"],
        command=[sys.executable, "-m", "mlmax"],
    )  # fmt: skip
    try:
        _, ready = run.wait_for(READY, timeout=300)
        assert ready["job"] == "monitoring"
        assert ready["code"] == "/opt/ml/processing/input/code"
        [container] = containers.docker_client().containers.list(
            ignore_removed=True, filters={"label": f"{labels.OWNER_PID}={run.process.pid}"}
        )
        assert_debugger_only_on_loopback_forward(container)
        with DapClient.connect("127.0.0.1", int(ready["port"]), timeout=30) as dap:
            attach = dap.attach(path_mappings=path_mappings())
            dap.wait_event("initialized", timeout=30)
            [breakpoint_] = dap.set_breakpoints(job_file, [line])
            assert breakpoint_["verified"], breakpoint_
            dap.configuration_done()
            dap.wait_response(attach, timeout=30)
            stopped = dap.wait_event("stopped", timeout=180)
            thread = stopped["body"]["threadId"]
            frame = dap.stack_trace(thread)[0]
            assert Path(frame["source"]["path"]) == job_file
            assert frame["line"] == line
            assert "args" in dap.locals(frame["id"])
            dap.set_breakpoints(job_file, [])
            dap.continue_(thread)
            dap.wait_event("terminated", timeout=180)
        assert run.wait(180) == 0, run.output
    finally:
        run.interrupt()
        run.wait(60)
    drift = json.loads((out / "drift.json").read_text())
    assert set(drift["features"]) == set(schema.NUMERIC)
    assert all(f["psi"] >= 0.0 for f in drift["features"].values())
    assert "✓ monitoring finished" in run.output
    assert (
        containers.docker_client().containers.list(
            ignore_removed=True,
            all=True,
            filters={"label": f"{labels.OWNER_PID}={run.process.pid}"},
        )
        == []
    )

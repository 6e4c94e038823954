"""`mlmax debug <job>`: the job in its container under debugpy, a real DAP client attaching.

The same ready line as `pytest --inspectlocal`, the same pathMappings as VS Code's launch
configuration, a breakpoint set by workspace path; the job's outputs are read back after the
debugger lets it finish, and nothing of the run is left. Another local user's debugger is
turned away at the forward, and the session's user attaches after it all the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlmax.localmode.engine import containers, labels
from mlmax.project.catalog import JOBS_DIR
from mlmax_census.data.generator import write_csv
from mlmax_census.jobs import schema
from tests.pytest_plugin.test_inspect_mode import _debug_session
from tests.support.inspect_driver import READY, InspectRun, line_of
from tests.support.isolation import assert_debugger_only_on_loopback_forward
from tests.support.other_user import REPO, checkout_reachable, local_user

pytestmark = pytest.mark.smlocal


OTHER_USER = "mlmax-test-other"  # a local user outside the docker group
MONITORING = JOBS_DIR / "monitoring.py"
FIRST_LINE = line_of(MONITORING, "baseline = load_baseline(")  # main's first statement
CONTAINER_OUTPUT = "/opt/ml/processing/monitoring"  # the job's output, delivered to the host

# Another local user's real DAP client, doing what the debugger would let it: stop the job,
# then plant a file into the output the session's user gets back. Prints what it achieved.
INTRUDER = """\
import json, sys
sys.path.insert(0, sys.argv[1])
from tests.support.dap_client import DapClient, DapError
port, script, line, plant = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
seen = {"initialized": False, "stopped": False}
try:
    with DapClient.connect("127.0.0.1", port, timeout=30, retry=False) as dap:
        seen["initialized"] = True
        attach = dap.attach()
        dap.wait_event("initialized", timeout=60)
        dap.set_breakpoints(script, [line])
        dap.configuration_done()
        stopped = dap.wait_event("stopped", timeout=120)
        seen["stopped"] = True
        frame = dap.stack_trace(stopped["body"]["threadId"])[0]
        dap.evaluate(f"open({plant!r}, 'w').write('planted')", frame["id"])
        dap.continue_(stopped["body"]["threadId"])
except DapError as error:
    seen["error"] = str(error)
print(json.dumps(seen))
"""


def _monitoring_run(tmp_path: Path, out: Path) -> InspectRun:
    baseline = write_csv(tmp_path / "baseline.csv", rows=400, seed=1)
    new = write_csv(tmp_path / "new.csv", rows=400, seed=2, drift=1.0)
    return InspectRun(
        ["debug", "monitoring", "--port", "0", "--wait-timeout", "120",
         "--input", f"baseline={baseline}", "--input", f"data={new}",
         "--output", f"monitoring={out}"],
        command=[sys.executable, "-m", "mlmax"],
    )  # fmt: skip


def _stop_at_first_line_then_finish(port: int) -> None:
    """Attach as VS Code does, stop at main's first statement, read it, let the job finish."""
    seen = _debug_session(port, MONITORING, FIRST_LINE, "args", "1 + 1")
    assert (seen["path"], seen["line"]) == (MONITORING, FIRST_LINE)
    assert seen["variable"] is not None and seen["expression"] == "2"


def _run_containers(run: InspectRun) -> list[object]:
    return containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={run.process.pid}"}
    )


def test_debug_command_stops_at_a_breakpoint_then_finishes_the_job(tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    run = _monitoring_run(tmp_path, out)
    try:
        _, ready = run.wait_for(READY, timeout=300)
        assert ready["job"] == "monitoring"
        assert ready["code"] == "/opt/ml/processing/input/code"
        [container] = _run_containers(run)
        assert_debugger_only_on_loopback_forward(container)
        _stop_at_first_line_then_finish(int(ready["port"]))
        assert run.wait(180) == 0, run.output
    finally:
        run.interrupt()
        run.wait(60)
    drift = json.loads((out / "drift.json").read_text())
    assert set(drift["features"]) == set(schema.NUMERIC)
    assert all(f["psi"] >= 0.0 for f in drift["features"].values())
    assert "✓ monitoring finished" in run.output
    assert _run_containers(run) == []


def test_another_local_user_cannot_attach_and_the_sessions_user_still_can(
    tmp_path: Path,
) -> None:
    other = local_user(OTHER_USER)
    out = tmp_path / "monitoring"
    run = _monitoring_run(tmp_path, out)
    try:
        _, ready = run.wait_for(READY, timeout=300)
        port = int(ready["port"])
        with checkout_reachable():
            intruder = other.run(
                sys.executable, "-c", INTRUDER, str(REPO), str(port),
                f"{ready['code']}/monitoring.py", str(FIRST_LINE), f"{CONTAINER_OUTPUT}/planted",
                cwd=Path("/"), timeout=300,
            )  # fmt: skip
        seen = json.loads(intruder.stdout.strip().splitlines()[-1])
        # Closed before debugpy said a word: no session, so no breakpoint, nothing evaluated.
        assert seen["initialized"] is False and seen["stopped"] is False, seen
        assert "closed" in seen["error"], seen
        # The session's own user attaches after it, as if nothing had happened.
        _stop_at_first_line_then_finish(port)
        assert run.wait(180) == 0, run.output
    finally:
        run.interrupt()
        run.wait(60)
    assert not (out / "planted").exists()
    assert (out / "drift.json").is_file()
    refusals = [line for line in run.output.splitlines() if "refused a debugger connection" in line]
    assert len(refusals) == 1, run.output
    assert f"from uid {other.uid}:" in refusals[0]

"""Debugging the endpoint's handler in its serving container: `mlmax serve --debug-port 0`
(what the VS Code launch configuration runs), a real DAP client attaching with the serving
code root's path mapping, a breakpoint in mlmax_census/jobs/serving.py hit by an invocation; the
endpoint survives the stop and serves on after the debugger continues and detaches."""

from __future__ import annotations

import re
import shutil
import sys
import threading
from pathlib import Path

import pytest

from mlmax.localmode.endpoint.hosting import SERVING_CODE_ROOT
from mlmax.localmode.engine import containers, labels
from mlmax.project.catalog import JOBS_DIR
from mlmax_census.sample_model import train_sample_model
from tests.support.dap_client import DapClient
from tests.support.endpoint_http import request
from tests.support.inspect_driver import READY, InspectRun, line_of
from tests.support.isolation import assert_debugger_only_on_loopback_forward

pytestmark = pytest.mark.smlocal

ENDPOINT = re.compile(r"endpoint ready at http://127\.0\.0\.1:(?P<port>\d+)")
START_TIMEOUT = 300
HANDLER = JOBS_DIR / "serving.py"
BREAK_AT = "return predictor.predict(_table_from_rows(predictor, rows))"


def _break_in_handler(dap: DapClient, line: int) -> int:
    """Attach with the serving code root's mapping and set the handler breakpoint; returns
    the attach request (answered once configuration is done)."""
    attach = dap.attach(
        path_mappings=[{"localRoot": str(JOBS_DIR), "remoteRoot": SERVING_CODE_ROOT}]
    )
    dap.wait_event("initialized", timeout=30)
    [breakpoint_] = dap.set_breakpoints(HANDLER, [line])
    assert breakpoint_["verified"], breakpoint_
    dap.configuration_done()
    dap.wait_response(attach, timeout=30)
    return attach


@pytest.fixture(scope="module")
def served_model(tmp_path_factory) -> tuple[Path, Path]:
    """(a directory with model.joblib and proc_model.tar.gz, the CSV it was trained on)."""
    model, proc_model, data = train_sample_model(tmp_path_factory.mktemp("served"), rows=1200)
    shutil.copy2(proc_model / "proc_model.tar.gz", model)
    return model, data


def test_breakpoint_in_the_handler_stops_an_invocation_and_the_endpoint_keeps_running(
    served_model, tmp_path
):
    model, data = served_model
    rows = "\n".join(data.read_text().splitlines()[:4]) + "\n"
    line = line_of(HANDLER, BREAK_AT)
    args = ["serve", "--model-dir", str(model), "--debug-port", "0"]
    with InspectRun(args, command=[sys.executable, "-m", "mlmax"]) as run:
        _, ready = run.wait_for(READY, START_TIMEOUT)
        assert (ready["job"], ready["code"]) == ("endpoint", SERVING_CODE_ROOT)
        _, served = run.wait_for(ENDPOINT, START_TIMEOUT)
        port = int(served["port"])
        [container] = containers.docker_client().containers.list(
            ignore_removed=True, filters={"label": f"{labels.OWNER_PID}={run.process.pid}"}
        )
        # Only the forward on the host's loopback reaches the handler's debugger (the serving
        # port itself is published on 127.0.0.1, as the SDK's hosting contract needs).
        assert_debugger_only_on_loopback_forward(container, published_ok=True)
        answers: list[tuple[int, bytes]] = []
        with DapClient.connect("127.0.0.1", int(ready["port"]), timeout=30) as dap:
            _break_in_handler(dap, line)
            caller = threading.Thread(
                target=lambda: answers.append(request(port, "POST", "/invocations", rows))
            )
            caller.start()
            stopped = dap.wait_event("stopped", timeout=120)
            thread = stopped["body"]["threadId"]
            frame = dap.stack_trace(thread)[0]
            assert (frame["name"], frame["line"]) == ("predict_fn", line)
            assert Path(frame["source"]["path"]).name == HANDLER.name
            assert {"rows", "predictor"} <= set(dap.locals(frame["id"]))
            # Stopped at the breakpoint (debugpy pauses every thread of the server): nothing
            # kills the endpoint meanwhile; the request waits and the container keeps running.
            dap.evaluate("len(rows)", frame["id"])  # a round trip while stopped
            assert answers == [], "the invocation must wait at the breakpoint"
            assert run.process.poll() is None
            (container,) = containers.docker_client().containers.list(
                ignore_removed=True, filters={"label": f"{labels.OWNER_PID}={run.process.pid}"}
            )
            assert container.status == "running"
            dap.set_breakpoints(HANDLER, [])
            dap.continue_(thread)
            caller.join(120)
            dap.disconnect()
        assert answers and answers[0][0] == 200
        assert answers[0][1].count(b'"prediction"') == 3
        assert request(port, "GET", "/ping")[0] == 200
        # Detached: the endpoint serves on.
        assert request(port, "POST", "/invocations", rows)[0] == 200
        run.interrupt()  # Ctrl-C in the terminal
        assert run.wait(60) == 0, run.output
        assert "endpoint stopped; its container was removed" in run.output
    left = containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={run.process.pid}"}
    )
    assert left == [], "mlmax serve left its container behind"


def test_inspect_mode_starts_the_tests_endpoint_under_debugpy_and_waits_for_a_debugger(tmp_path):
    """`pytest <endpoint test> --smlocal --inspectlocal --inspect-job endpoint`: the chain's jobs
    run as usual, the sm_endpoint deployment waits for a debugger, and a breakpoint in the
    handler stops the test's first invocation."""
    line = line_of(HANDLER, BREAK_AT)
    test = (
        "tests/localmode/endpoint/test_endpoint.py"
        "::test_bad_payload_gets_4xx_and_the_endpoint_keeps_serving"
    )
    args = [test, "--smlocal", "--inspectlocal", "--inspect-port", "0", "--inspect-job", "endpoint"]
    with InspectRun(args, basetemp=tmp_path / "run") as run:
        _, ready = run.wait_for(READY, START_TIMEOUT)
        assert (ready["job"], ready["code"]) == ("endpoint", SERVING_CODE_ROOT)
        with DapClient.connect("127.0.0.1", int(ready["port"]), timeout=30) as dap:
            _break_in_handler(dap, line)
            stopped = dap.wait_event("stopped", timeout=180)
            thread = stopped["body"]["threadId"]
            frame = dap.stack_trace(thread)[0]
            assert (frame["name"], frame["line"]) == ("predict_fn", line)
            dap.set_breakpoints(HANDLER, [])
            dap.continue_(thread)
            dap.disconnect()
        assert run.wait(300) == 0, run.output
    assert "1 passed" in run.output
    left = containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={run.process.pid}"}
    )
    assert left == [], "the inspect run left containers behind"

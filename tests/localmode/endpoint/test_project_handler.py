"""A project's own inference script served as an endpoint: examples/smscripts, whose training
script also holds `model_fn` and `predict_fn`, declares the endpoint `forest`.

A copy of the example runs its own `pytest --smlocal` (`sm_endpoint.deploy(..., endpoint=
"forest")`, CSV and JSON); `mlmax serve forest --debug-port 0` serves the model the fit job
trained in its container, and a real DAP client stops in the project's predict_fn, as it does
in inspect mode (`--inspectlocal`) and under VS Code's Debug Test on the example's test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlmax.common import UsageError
from mlmax.localmode.endpoint import SERVING_CODE_ROOT
from mlmax.localmode.engine import containers, labels
from mlmax.project import load_project
from tests.support.dap_client import DapClient
from tests.support.endpoint_http import request
from tests.support.inner_pytest import isolate
from tests.support.inspect_driver import READY, InspectRun, line_of
from tests.support.vscode_debug import DebugTest

pytestmark = pytest.mark.smlocal

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "smscripts"
ENDPOINT = re.compile(r"endpoint ready at http://127\.0\.0\.1:(?P<port>\d+)")
MAPPED = re.compile(r"mlmax: map /opt/ml/code to (?P<folder>\S+)")
BREAK_AT = "labels = model.predict(rows)"
START_TIMEOUT = 300
EXAMPLE_TEST = "tests/test_endpoint.py::test_the_forest_is_served_with_csv_and_json"
ROWS = "0.1,0.2,3.0\n1.0,-1.0,0.5\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project, its own pytest root (as a user's checkout is)."""
    copy = shutil.copytree(EXAMPLE, tmp_path / "smscripts", ignore=shutil.ignore_patterns("out"))
    isolate(copy)
    return copy


@pytest.fixture(scope="module")
def forest_model(sm_localmode, tmp_path_factory) -> Path:
    """The model directory the example's fit job wrote in its container."""
    fit = load_project(EXAMPLE / "pyproject.toml").jobs["fit"]
    model = tmp_path_factory.mktemp("forest") / "model"
    sm_localmode.run(fit, inputs={"train": EXAMPLE / "data" / "train"}, outputs={"model": model})
    return model


def _inner_environment() -> dict[str, str]:
    leaky = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if k not in leaky}


def _owned_containers(pid: int) -> list:
    return containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={pid}"}
    )


def _break_in_predict_fn(dap: DapClient, source: Path) -> int:
    handler = source / "fit.py"
    line = line_of(handler, BREAK_AT)
    attach = dap.attach(path_mappings=[{"localRoot": str(source), "remoteRoot": SERVING_CODE_ROOT}])
    dap.wait_event("initialized", timeout=30)
    [breakpoint_] = dap.set_breakpoints(handler, [line])
    assert breakpoint_["verified"], breakpoint_
    dap.configuration_done()
    dap.wait_response(attach, timeout=30)
    return line


def _stopped_in_predict_fn(dap: DapClient, source: Path, line: int) -> int:
    stopped = dap.wait_event("stopped", timeout=180)
    thread = stopped["body"]["threadId"]
    frame = dap.stack_trace(thread)[0]
    assert (frame["name"], frame["line"]) == ("predict_fn", line)
    assert Path(frame["source"]["path"]) == source / "fit.py"
    assert dap.locals(frame["id"])["data"].startswith("array(")
    dap.set_breakpoints(source / "fit.py", [])
    return thread


def test_the_example_projects_endpoint_test_passes_in_its_own_pytest(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--smlocal", "tests"],
        cwd=project,
        env=_inner_environment(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout


def test_mlmax_serve_name_serves_csv_and_json_and_stops_in_predict_fn(
    project: Path, forest_model: Path
) -> None:
    source = project / "src" / "smscripts"
    args = ["serve", "forest", "--model-dir", str(forest_model), "--debug-port", "0"]
    command = [sys.executable, "-m", "mlmax"]
    with InspectRun(args, command=command, cwd=project, env=_inner_environment()) as run:
        _, ready = run.wait_for(READY, START_TIMEOUT)
        assert (ready["job"], ready["code"]) == ("endpoint", SERVING_CODE_ROOT)
        _, mapped = run.wait_for(MAPPED, 30)
        assert Path(mapped["folder"]) == source.resolve()
        port = int(run.wait_for(ENDPOINT, START_TIMEOUT)[1]["port"])
        answers: list[tuple[int, bytes]] = []
        with DapClient.connect("127.0.0.1", int(ready["port"]), timeout=30) as dap:
            line = _break_in_predict_fn(dap, source)
            caller = threading.Thread(
                target=lambda: answers.append(request(port, "POST", "/invocations", ROWS))
            )
            caller.start()
            thread = _stopped_in_predict_fn(dap, source, line)
            assert answers == [], "the invocation must wait at the breakpoint"
            dap.continue_(thread)
            caller.join(120)
            dap.disconnect()
        status, body = answers[0]
        assert status == 200, body
        by_csv = json.loads(body)
        assert len(by_csv) == 2 and all(row[0] in (0.0, 1.0) and 0 <= row[1] <= 1 for row in by_csv)
        # The same rows as JSON give the same answer.
        rows = [[float(v) for v in line.split(",")] for line in ROWS.splitlines()]
        status, body = request(port, "POST", "/invocations", json.dumps(rows), "application/json")
        assert status == 200, body
        assert json.loads(body) == by_csv
        run.interrupt()
        assert run.wait(60) == 0, run.output
        assert "endpoint stopped; its container was removed" in run.output
    assert _owned_containers(run.process.pid) == []


def test_inspect_mode_stops_in_the_projects_predict_fn(project: Path, tmp_path: Path) -> None:
    source = project / "src" / "smscripts"
    args = [
        "tests/test_endpoint.py",
        "--smlocal",
        "--inspectlocal",
        "--inspect-port",
        "0",
        "--inspect-job",
        "endpoint",
    ]
    with InspectRun(args, cwd=project, basetemp=tmp_path / "run", env=_inner_environment()) as run:
        _, ready = run.wait_for(READY, START_TIMEOUT)
        assert (ready["job"], ready["code"]) == ("endpoint", SERVING_CODE_ROOT)
        _, mapped = run.wait_for(MAPPED, 30)
        assert Path(mapped["folder"]) == source.resolve()
        with DapClient.connect("127.0.0.1", int(ready["port"]), timeout=30) as dap:
            line = _break_in_predict_fn(dap, source)
            thread = _stopped_in_predict_fn(dap, source, line)
            dap.continue_(thread)
            dap.disconnect()
        assert run.wait(300) == 0, run.output
    assert "1 passed" in run.output
    assert _owned_containers(run.process.pid) == []


def test_debug_test_opens_the_projects_handler_as_a_child_session(
    project: Path, tmp_path: Path
) -> None:
    """Debug Test on the example's endpoint test, with the .vscode files `mlmax vscode` wrote
    for it: the serving container opens as a child session mapped to the handler's folder."""
    source = project / "src" / "smscripts"
    made = subprocess.run(
        [sys.executable, "-m", "mlmax", "vscode"],
        cwd=project,
        env=_inner_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    extra = [
        "-p",
        "no:cacheprovider",
        f"--basetemp={tmp_path / 'run'}",
        "--inspect-job",
        "endpoint",
    ]
    log = tmp_path / "terminal.log"
    with DebugTest(EXAMPLE_TEST, extra, log, workspace=project) as session:
        session.start()
        configuration = session.next_child_request(START_TIMEOUT)
        assert configuration is not None, session.output
        assert configuration["pathMappings"] == [
            {"localRoot": str(source), "remoteRoot": SERVING_CODE_ROOT}
        ]
        line = line_of(source / "fit.py", BREAK_AT)
        child = session.open_child(configuration, {source / "fit.py": [line]})
        stopped = child.dap.wait_event("stopped", timeout=180)
        thread = stopped["body"]["threadId"]
        frame = child.dap.stack_trace(thread)[0]
        assert (frame["name"], frame["line"]) == ("predict_fn", line)
        assert Path(frame["source"]["path"]) == source / "fit.py"
        child.dap.set_breakpoints(source / "fit.py", [])
        child.dap.continue_(thread)
        assert session.next_child_request(180) is None  # one child: the endpoint
        assert session.wait_terminal(300) == 0, session.output
    assert "1 passed" in session.output


def test_sm_endpoint_names_a_wrong_endpoint_or_argument_in_one_sentence(
    sm_endpoint, forest_model: Path
) -> None:
    forest = load_project(EXAMPLE / "pyproject.toml").endpoint("forest")
    with pytest.raises(UsageError, match=r"^proc_model_dir is for mlmax's census handler; a "):
        sm_endpoint.deploy(forest_model, forest_model, endpoint=forest)
    # This checkout's pyproject.toml declares no endpoints.
    with pytest.raises(UsageError, match=r"declare it as \[tool\.mlmax\.endpoints\.nothing\]$"):
        sm_endpoint.deploy(forest_model, endpoint="nothing")

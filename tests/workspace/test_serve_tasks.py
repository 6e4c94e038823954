"""The two "serve the latest run's model" tasks, run the way VS Code runs them.

One workspace copy gets a small run made by the host runner (no Docker, few rows), so the
task's exact command (`mlmax serve`, no arguments but the debug port) finds it as the latest
run. Each task must reach its problem matcher's ready line and serve; the debugger variant is
attached to through "Debug the endpoint handler" (connection and path mappings from
launch.json) and a breakpoint in the handler stops an invocation. Ctrl-C, as stopping a task
does, ends each with its container removed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlmax.localmode.engine import containers, labels
from mlmax.project.catalog import JOBS_DIR
from tests.support import jsonc
from tests.support.dap_client import DapClient
from tests.support.endpoint_http import request
from tests.support.inspect_driver import line_of
from tests.support.taskrun import BackgroundTask
from tests.support.vscode import copy_workspace, nested_run, substitute_all, task, task_command
from tests.support.xdist_groups import DEFAULT_DEBUG_PORT

pytestmark = [
    pytest.mark.smlocal,
    DEFAULT_DEBUG_PORT,  # the debugger task listens on it; its fixture is built once
    pytest.mark.skipif(
        nested_run(),
        reason="runs the workspace's tasks, and is itself running inside one (nested run)",
    ),
]

SERVE_TASK = "mlmax: serve the latest run's model"
SERVE_DEBUG_TASK = "mlmax: serve the latest run's model (debugger)"
DEBUG_CONFIG = "Debug the endpoint handler"
HANDLER = JOBS_DIR / "serving.py"
BREAK_AT = "return predictor.predict(_table_from_rows(predictor, rows))"
ROWS = 600


@pytest.fixture(scope="module")
def served_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace copy whose runs/ holds one small run trained by the host runner."""
    workspace = copy_workspace(tmp_path_factory.mktemp("serve") / "workspace")
    made = subprocess.run(
        [sys.executable, "-m", "mlmax", "pipeline", "--runner", "host", "--rows", str(ROWS)],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return workspace


def _patterns(label: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    background = task(label)["problemMatcher"]["background"]
    return re.compile(background["beginsPattern"]), re.compile(background["endsPattern"])


def _port(ready_line: str) -> int:
    return int(re.search(r"127\.0\.0\.1:(\d+)", ready_line).group(1))


def _rows(workspace: Path) -> str:
    """Three rows of the run's new data (header included), as a client would send them."""
    [data] = (workspace / "runs").glob("*/inputs/new_data/new_data.csv")
    return "\n".join(data.read_text().splitlines()[:4]) + "\n"


def _stop_and_check_nothing_left(run: BackgroundTask) -> None:
    pid = run.pid
    run.stop()  # Ctrl-C, as VS Code's "Terminate Task" does to a process task
    assert run.wait_exit(timeout=60) == 0, run.output[-6000:]
    assert "endpoint stopped; its container was removed" in run.output
    left = containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={pid}"}
    )
    assert left == [], "the serve task left its container behind"


def test_serve_task_reaches_its_ready_line_and_serves(served_workspace: Path) -> None:
    begins, ends = _patterns(SERVE_TASK)
    with BackgroundTask(task_command(SERVE_TASK, served_workspace)) as run:
        run.wait_for(begins, timeout=120)
        port = _port(run.wait_for(ends, timeout=300))
        assert request(port, "GET", "/ping")[0] == 200
        status, answer = request(port, "POST", "/invocations", _rows(served_workspace))
        assert status == 200, answer
        assert answer.count(b'"prediction"') == 3
        _stop_and_check_nothing_left(run)


def _debug_config(workspace: Path) -> dict:
    for config in jsonc.load(workspace / ".vscode" / "launch.json")["configurations"]:
        if config["name"] == DEBUG_CONFIG:
            return substitute_all(config, workspace)
    raise KeyError(DEBUG_CONFIG)


def test_serve_debugger_task_reaches_its_ready_line_and_a_debugger_attaches(
    served_workspace: Path,
) -> None:
    config = _debug_config(served_workspace)
    assert config["preLaunchTask"] == SERVE_DEBUG_TASK
    begins, ends = _patterns(SERVE_DEBUG_TASK)
    line = line_of(served_workspace / "mlmax_census" / "jobs" / "serving.py", BREAK_AT)
    handler = Path(config["pathMappings"][0]["localRoot"]) / HANDLER.name
    with BackgroundTask(task_command(SERVE_DEBUG_TASK, served_workspace)) as run:
        run.wait_for(begins, timeout=120)
        port = _port(run.wait_for(ends, timeout=300))
        answers: list[tuple[int, bytes]] = []
        connect = config["connect"]
        with DapClient.connect(connect["host"], int(connect["port"]), timeout=60) as dap:
            attach = dap.attach(
                path_mappings=config["pathMappings"], justMyCode=config["justMyCode"]
            )
            dap.wait_event("initialized", timeout=30)
            [breakpoint_] = dap.set_breakpoints(handler, [line])
            assert breakpoint_["verified"], breakpoint_
            dap.configuration_done()
            dap.wait_response(attach, timeout=30)
            caller = threading.Thread(
                target=lambda: answers.append(
                    request(port, "POST", "/invocations", _rows(served_workspace))
                )
            )
            caller.start()
            stopped = dap.wait_event("stopped", timeout=120)
            thread = stopped["body"]["threadId"]
            frame = dap.stack_trace(thread)[0]
            assert (Path(frame["source"]["path"]), frame["line"]) == (handler, line)
            assert answers == [], "the invocation must wait at the breakpoint"
            dap.set_breakpoints(handler, [])
            dap.continue_(thread)
            caller.join(120)
            dap.disconnect()
        assert answers and answers[0][0] == 200, answers
        _stop_and_check_nothing_left(run)

"""VS Code's "Debug Test" on a container test, played exactly by a DAP client (no VS Code).

pytest runs under debugpy's own adapter with the workspace's debug-test launch configuration;
each job the test runs announces itself with a `debugpyAttach` event, the client opens it as
a child session as VS Code does, breakpoints set by workspace path stop in the container,
locals are read, Continue lets the job finish, and the test's own result comes back.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from mlmax.localmode.endpoint.hosting import ENDPOINT_JOB, SERVING_CODE_ROOT
from mlmax.localmode.engine import containers, labels
from mlmax.localmode.run.debug_run import path_mappings
from mlmax.project.catalog import JOBS_DIR, PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT
from mlmax.pytest_plugin.debug_test import GRACE_SECONDS
from tests.support.inspect_driver import line_of
from tests.support.isolation import assert_debugger_only_on_loopback_forward
from tests.support.vscode_debug import DebugTest

pytestmark = pytest.mark.smlocal

CHAIN = "tests/localmode/run/test_chain.py"
OWN_PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "ownpipeline"
PREPROCESSING_TEST = f"{CHAIN}::test_preprocessing_splits_generated_data"
START = 300  # pytest start, image checks, S3, a container on a busy 2-core machine
STOP = 180


def _extra(tmp_path: Path, *more: str) -> list[str]:
    # The run's files stay under tmp_path (nothing written into the source tree).
    return ["-p", "no:cacheprovider", f"--basetemp={tmp_path / 'run'}", *more]


def _containers_of_pid(pid: int) -> list:
    return containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={pid}"}
    )


def _pytest_pid(session: DebugTest) -> int:
    assert session.parent is not None
    event = session.parent.wait_event("process", timeout=30)
    return int(event["body"]["systemProcessId"])


def _first_child(session: DebugTest) -> tuple[int, dict]:
    """Launch; (pytest's pid, the first child-session request)."""
    session.start()
    pid = _pytest_pid(session)
    configuration = session.next_child_request(START)
    assert configuration is not None, session.output
    return pid, configuration


def _check_child_configuration(configuration: dict, job: str) -> None:
    assert configuration["request"] == "attach" and configuration["type"] == "debugpy"
    assert configuration["connect"]["host"] == "127.0.0.1"
    assert configuration["connect"]["port"] != 5678  # no fixed port: the OS chose it
    assert configuration["pathMappings"] == path_mappings()
    assert all(Path(m["localRoot"]).is_absolute() for m in configuration["pathMappings"])
    assert configuration["justMyCode"] is False
    assert job in configuration["name"]


def _stop_read_continue(child, path: Path, line: int, variable: str) -> str:
    stopped = child.dap.wait_event("stopped", timeout=STOP)
    thread = stopped["body"]["threadId"]
    frame = child.dap.stack_trace(thread)[0]
    assert (Path(frame["source"]["path"]), frame["line"]) == (path, line)
    value = child.dap.locals(frame["id"]).get(variable)
    child.dap.continue_(thread)
    child.dap.wait_event("terminated", timeout=STOP)
    return str(value)


def test_debug_test_stops_at_a_breakpoint_in_a_processing_job(tmp_path):
    job_file = JOBS_DIR / "preprocessing.py"
    line = line_of(job_file, 'after cleaning")')
    with DebugTest(PREPROCESSING_TEST, _extra(tmp_path), tmp_path / "terminal.log") as session:
        pid, configuration = _first_child(session)
        _check_child_configuration(configuration, "preprocessing")
        [container] = [c for c in _containers_of_pid(pid) if c.status == "running"]
        assert_debugger_only_on_loopback_forward(container)
        child = session.open_child(configuration, {job_file: [line]})
        cleaned = _stop_read_continue(child, job_file, line, "cleaned")
        assert cleaned.split()[0] == "age"  # a DataFrame's repr starts with its first column
        assert session.next_child_request(STOP) is None  # the test session ends: one job
        assert session.wait_terminal(STOP) == 0, session.output
    assert "1 passed" in session.output
    assert "asked the debugger for a child session for job preprocessing" in session.output
    assert "mlmax: running under a debugger" in session.output  # absent outside (test_debug_parts)
    assert _containers_of_pid(pid) == []


def _each_child_in_turn(
    session: DebugTest,
    path: Path,
    line: int,
    stop_in: str,
    variable: str,
    *,
    everywhere: bool = True,
) -> tuple[int, list[dict], str | None]:
    """Launch, then open every child session in turn with a breakpoint at `path`:`line`
    (VS Code sends every workspace breakpoint to every session; without `everywhere`, only
    to `stop_in`'s); in the one named `stop_in`, stop there, read `variable` and continue.
    (pytest's pid, the configurations, the value)."""
    session.start()
    pid = _pytest_pid(session)
    configurations, value = [], None
    while (configuration := session.next_child_request(START)) is not None:
        configurations.append(configuration)
        here = configuration["name"].split()[2] == stop_in
        child = session.open_child(configuration, {path: [line]} if everywhere or here else {})
        if here:
            value = _stop_read_continue(child, path, line, variable)
        else:
            child.dap.wait_event("terminated", timeout=STOP)
    return pid, configurations, value


def _names(configurations: list[dict]) -> list[str]:
    return [configuration["name"].split()[2] for configuration in configurations]


def test_debug_test_opens_each_job_in_turn_and_stops_in_the_training_job(tmp_path):
    train_file = JOBS_DIR / "train.py"
    line = line_of(train_file, 'print(f"train: fitting')
    test_id = f"{CHAIN}::test_training_packs_model_and_reports_metrics"
    with DebugTest(test_id, _extra(tmp_path), tmp_path / "terminal.log") as session:
        pid, configurations, args = _each_child_in_turn(session, train_file, line, "train", "args")
        assert "c=0.5" in str(args)
        assert session.wait_terminal(STOP) == 0, session.output
    assert _names(configurations) == ["preprocessing", "train"]  # the fixture's job first
    assert "1 passed" in session.output
    assert _containers_of_pid(pid) == []


RAISER = """\
import argparse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = [1, 2, 3]
    raise ValueError(f"cannot score {len(rows)} rows")  # the raising line


if __name__ == "__main__":
    main()
"""

RAISING_TEST = """\
import pytest
from mlmax.project.catalog import Channel, JobDefinition
from mlmax.localmode.errors import JobFailedError

pytestmark = pytest.mark.smlocal


def test_raising_job_fails(sm_localmode, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "raiser.py").write_text({raiser!r})
    job = JobDefinition(
        "raiser", "raiser.py", "processing", (),
        (Channel("out", "--out", "/opt/ml/processing/output"),),
    )
    with pytest.raises(JobFailedError):
        sm_localmode.run(job, outputs={{"out": tmp_path / "out"}}, timeout=600, code_dir=code)
"""


def test_debug_test_stops_post_mortem_at_the_line_a_job_raises(tmp_path):
    test_file = tmp_path / "tests" / "test_raising.py"
    test_file.parent.mkdir()
    test_file.write_text(textwrap.dedent(RAISING_TEST.format(raiser=RAISER)))
    raising_line = _line_of_text(RAISER, "# the raising line")
    with DebugTest(
        f"{test_file}::test_raising_job_fails", _extra(tmp_path), tmp_path / "terminal.log"
    ) as session:
        pid, configuration = _first_child(session)
        child = session.open_child(configuration)  # "uncaught" filter on, as VS Code's default
        stopped = child.dap.wait_event("stopped", timeout=STOP)
        assert stopped["body"]["reason"] == "exception"
        thread = stopped["body"]["threadId"]
        frame = child.dap.stack_trace(thread)[0]
        # The job's code is not in the workspace, so its path maps to the jobs folder's name.
        assert (Path(frame["source"]["path"]).name, frame["line"]) == ("raiser.py", raising_line)
        assert child.dap.locals(frame["id"]).get("rows") == "[1, 2, 3]"
        info = child.dap.request("exceptionInfo", {"threadId": thread})
        assert "cannot score 3 rows" in info.get("description", "")
        child.dap.continue_(thread)
        child.dap.wait_event("terminated", timeout=STOP)
        assert session.wait_terminal(STOP) == 0, session.output  # the test expects the failure
    assert "1 passed" in session.output
    assert _containers_of_pid(pid) == []


def _line_of_text(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if marker in line)


def test_a_client_ignoring_the_child_request_gets_the_fallback_and_a_clean_failure(tmp_path):
    timeout = GRACE_SECONDS + 5  # from readiness: the grace period, then a little more
    extra = _extra(tmp_path, "--inspect-timeout", f"{timeout:g}")
    with DebugTest(PREPROCESSING_TEST, extra, tmp_path / "terminal.log") as session:
        pid, configuration = _first_child(session)  # ...and the request is ignored
        assert session.next_child_request(START) is None
        assert session.wait_terminal(STOP) != 0
    # The only stop in the test's own session: pytest's exit with the failure's code.
    # (debugpy appends a note on where execution is paused to the exception's id.)
    assert [stop["exceptionId"].split()[0] for stop in session.parent_stops] == ["SystemExit"]
    output = session.output
    port = configuration["connect"]["port"]
    assert re.search(
        rf"no child session opened for job preprocessing within {GRACE_SECONDS:g} s .*"
        rf"attach to 127\.0\.0\.1:{port} yourself within --inspect-timeout",
        output,
    ), output
    assert f"no debugger attached to job 'preprocessing' on 127.0.0.1:{port}" in output
    assert "1 failed" in output or "1 error" in output
    assert _containers_of_pid(pid) == []
    assert PROCESSING_CODE_ROOT in output  # the ready line, for attaching by hand


def test_stopping_the_child_session_ends_the_job_and_leaves_no_container(tmp_path):
    job_file = JOBS_DIR / "preprocessing.py"
    line = line_of(job_file, 'after cleaning")')
    with DebugTest(PREPROCESSING_TEST, _extra(tmp_path), tmp_path / "terminal.log") as session:
        pid, configuration = _first_child(session)
        child = session.open_child(configuration, {job_file: [line]})
        child.dap.wait_event("stopped", timeout=STOP)
        child.dap.disconnect(terminate=True)  # the Stop button on the child session
        assert session.next_child_request(STOP) is None
        assert session.wait_terminal(STOP) != 0
    # debugpy ends a terminated debuggee with exit code 0: the job's missing outputs say it.
    assert re.search(
        r"job 'preprocessing' (failed in its container|exited with code 0 "
        r"but wrote nothing)",
        session.output,
    ), session.output
    assert _containers_of_pid(pid) == []


def test_debug_test_opens_the_endpoint_as_a_child_session_and_stops_in_the_handler(tmp_path):
    """An `sm_endpoint` test under Debug Test: the serving container's handler opens as a
    child session; a handler breakpoint stops an invocation while the endpoint keeps running;
    Continue lets the test pass, and nothing is left."""
    handler = JOBS_DIR / "serving.py"
    line = line_of(handler, "return predictor.predict(_table_from_rows(predictor, rows))")
    test_id = (
        "tests/localmode/endpoint/test_endpoint.py"
        "::test_bad_payload_gets_4xx_and_the_endpoint_keeps_serving"
    )
    extra = _extra(tmp_path, "--inspect-job", ENDPOINT_JOB)  # the chain's jobs run as usual
    with DebugTest(test_id, extra, tmp_path / "terminal.log") as session:
        pid, configuration = _first_child(session)
        assert ENDPOINT_JOB in configuration["name"]
        assert configuration["connect"]["host"] == "127.0.0.1"
        assert configuration["connect"]["port"] != 5678
        assert configuration["pathMappings"] == [
            {"localRoot": str(JOBS_DIR), "remoteRoot": SERVING_CODE_ROOT}
        ]
        [container] = [c for c in _containers_of_pid(pid) if c.status == "running"]
        assert_debugger_only_on_loopback_forward(container, published_ok=True)
        child = session.open_child(configuration, {handler: [line]})
        stopped = child.dap.wait_event("stopped", timeout=STOP)
        thread = stopped["body"]["threadId"]
        frame = child.dap.stack_trace(thread)[0]
        assert (Path(frame["source"]["path"]), frame["line"]) == (handler, line)
        assert frame["name"] == "predict_fn"
        # Stopped at the breakpoint: the test waits on its request, the endpoint lives on.
        child.dap.evaluate("len(rows)", frame["id"])
        assert session.terminal is not None and session.terminal.poll() is None
        [container] = _containers_of_pid(pid)
        container.reload()
        assert container.status == "running"
        child.dap.set_breakpoints(handler, [])
        child.dap.continue_(thread)
        assert session.next_child_request(STOP) is None  # one child: the endpoint
        assert session.wait_terminal(STOP) == 0, session.output
    assert "1 passed" in session.output
    assert f"asked the debugger for a child session for job {ENDPOINT_JOB}" in session.output
    assert _containers_of_pid(pid) == []


def test_debug_test_opens_each_step_of_a_projects_pipeline_and_stops_in_its_script(
    tmp_path, monkeypatch
):
    """VS Code's Debug Test on examples/ownpipeline's test: each step of the test's own
    Pipeline opens in turn as a child session mapped to the project's scripts, and a
    breakpoint stops in its training script."""
    import shutil

    project = tmp_path / "ownpipeline"
    shutil.copytree(OWN_PIPELINE, project, ignore=shutil.ignore_patterns("__pycache__"))
    # The test imports the project's package, as its own venv would have it installed.
    monkeypatch.setenv("PYTHONPATH", str(project / "src"))
    scripts = project / "src" / "ownpipeline" / "scripts"
    train = scripts / "train.py"
    line = line_of(train, "accuracy = float(model.score")
    test_id = (
        f"{project / 'tests' / 'test_pipeline.py'}::test_the_pipeline_preprocesses_then_trains"
    )
    with DebugTest(test_id, _extra(tmp_path), tmp_path / "terminal.log") as session:
        # A ScriptProcessor's code root holds its one script: a breakpoint in train.py
        # cannot bind in Preprocess's session (VS Code shows it unverified there).
        pid, configurations, features = _each_child_in_turn(
            session, train, line, "Train", "features", everywhere=False
        )
        assert str(features).startswith("array([")
        assert session.wait_terminal(STOP) == 0, session.output
    assert _names(configurations) == ["Preprocess", "Train"]  # each step in turn
    for configuration, code_root in zip(
        configurations, [PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT], strict=True
    ):
        assert configuration["pathMappings"] == [
            {"localRoot": str(scripts), "remoteRoot": code_root}
        ]
        assert configuration["connect"]["port"] != 5678
    assert "1 passed" in session.output
    assert _containers_of_pid(pid) == []

"""Nothing leaks: containers, compose processes and temp files, after a pass, a failure, a
timeout, Ctrl-C, SIGTERM and SIGHUP (each sent to a pytest process running a container test)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from mlmax.localmode.engine import compose, containers, labels
from mlmax.localmode.errors import JobFailedError, JobTimeoutError
from mlmax.localmode.run.container_run import run_job
from mlmax.project.catalog import Channel, JobDefinition, JobRun
from mlmax_census.data.generator import write_csv
from tests.support.leaks import assert_nothing_left, container_events, snapshot, wait_for

pytestmark = pytest.mark.smlocal

SLEEPER = "import time\nprint('sleeper: started', flush=True)\ntime.sleep(600)\n"


@pytest.fixture
def private_temp(tmp_path, monkeypatch) -> Path:
    """Point this process's temp dir at an empty directory, to see every temp file."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


@pytest.fixture
def baseline(sm_localmode, private_temp):
    root = sm_localmode.session.root
    return snapshot(private_temp, root)


def _raw_data(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    write_csv(raw / "census.csv", 400, seed=3)
    return raw


def test_passing_job_leaves_nothing(sm_local, sm_localmode, baseline, private_temp, tmp_path):
    raw = _raw_data(tmp_path)
    result = sm_local.run(
        "monitoring", inputs={"baseline": raw, "data": raw}, outputs={"monitoring": tmp_path / "m"}
    )
    assert (result.outputs["monitoring"] / "drift.json").is_file()
    assert_nothing_left(baseline, private_temp, sm_localmode.session.root)


def test_failing_job_raises_one_clear_error_and_leaves_nothing(
    sm_local, sm_localmode, baseline, private_temp, tmp_path
):
    # Evaluation on a directory without the test files: the job exits 2 with a sentence.
    empty_test = tmp_path / "test"
    empty_test.mkdir()
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.joblib").write_bytes(b"not a model")
    output = tmp_path / "evaluation"
    with pytest.raises(JobFailedError) as failure:
        sm_local.run(
            "evaluation",
            inputs={"model": model, "test": empty_test},
            outputs={"evaluation": output},
        )
    error = failure.value
    first_line = str(error).splitlines()[0]
    assert first_line.startswith("job 'evaluation' failed in its container with exit code 2;")
    assert error.exit_code == 2
    assert "error:" in error.log_tail
    assert not output.exists(), "a failed job writes nothing to its outputs"
    assert_nothing_left(baseline, private_temp, sm_localmode.session.root)


def test_job_timeout_stops_the_container_and_leaves_nothing(
    sm_localmode, baseline, private_temp, tmp_path
):
    code = tmp_path / "code"
    code.mkdir()
    (code / "sleeper.py").write_text(SLEEPER)
    job = JobDefinition(
        name="sleeper",
        script="sleeper.py",
        kind="processing",
        inputs=(),
        outputs=(Channel("out", "--out", "/opt/ml/processing/output"),),
    )
    started = time.time_ns()
    with pytest.raises(JobTimeoutError) as failure:
        run_job(
            JobRun(job, inputs={}, outputs={"out": tmp_path / "out"}),
            image=sm_localmode.image,
            session=sm_localmode.session,
            timeout=6.0,
            code_dir=code,
        )
    session = labels.current_session().session_id
    ended = container_events(
        "die", started, time.time_ns(), **{labels.SESSION: session, labels.JOB: "sleeper"}
    )
    assert "did not finish within its 6 s timeout" in str(failure.value)
    # Stopped at the deadline, not waited for: the 600 s sleeper died of a signal.
    assert [e["Actor"]["Attributes"]["exitCode"] for e in ended] in (["137"], ["143"]), ended
    assert_nothing_left(baseline, private_temp, sm_localmode.session.root)


def test_a_container_removed_mid_run_is_said_to_be_removed_not_unstarted(
    sm_localmode, baseline, private_temp, tmp_path
):
    import threading

    code = tmp_path / "code"
    code.mkdir()
    (code / "sleeper.py").write_text(SLEEPER)
    name = f"removed-{secrets.token_hex(3)}"
    job = JobDefinition(name, "sleeper.py", "processing", (),
                        (Channel("out", "--out", "/opt/ml/processing/output"),))  # fmt: skip
    failures: list[BaseException] = []

    def run() -> None:
        try:
            run_job(JobRun(job, inputs={}, outputs={"out": tmp_path / "out"}),
                    image=sm_localmode.image, session=sm_localmode.session, timeout=300,
                    code_dir=code)  # fmt: skip
        except BaseException as error:
            failures.append(error)

    runner = threading.Thread(target=run)
    runner.start()
    client = containers.docker_client()
    running = wait_for(
        lambda: client.containers.list(
            filters={"label": f"{labels.JOB}={name}"}, ignore_removed=True
        ),
        timeout=120,
        what="the job's container to run",
    )
    project = running[0].labels["com.docker.compose.project"]
    of_project = f"label=com.docker.compose.project={project}"
    removed = subprocess.run(
        ["sh", "-c", f"docker rm -f $(docker ps -aq --filter {of_project})"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], JobFailedError), failures
    message = str(failures[0])
    assert message.startswith(
        f"job {name!r} was started, and then its container was removed before the job finished"
        " (by `docker rm -f` or a clean-up outside mlmax); run it again and leave its container"
    )
    assert "could not start" not in message
    assert_nothing_left(baseline, private_temp, sm_localmode.session.root)


# -- in a separate pytest process --------------------------------------------------------
INNER_SLEEPER_TEST = """
import pytest
from mlmax.project.catalog import Channel, JobDefinition, JobRun
from mlmax.localmode.run.container_run import run_job

@pytest.mark.smlocal
def test_sleeps(sm_localmode, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "sleeper.py").write_text({sleeper!r})
    job = JobDefinition({job_name!r}, "sleeper.py", "processing", (),
                        (Channel("out", "--out", "/opt/ml/processing/output"),))
    run_job(JobRun(job, inputs={{}}, outputs={{"out": tmp_path / "out"}}),
            image=sm_localmode.image, session=sm_localmode.session, code_dir=code)
"""

INNER_FAILING_TEST = """
import pytest

@pytest.mark.smlocal
def test_evaluation_without_test_data(sm_local, tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.joblib").write_bytes(b"not a model")
    sm_local.run("evaluation", inputs={"model": tmp_path / "model", "test": tmp_path / "test"},
                 outputs={"evaluation": tmp_path / "evaluation"})
"""


def _inner_pytest(tmp_path: Path, source: str, sm_image: str) -> tuple[list[str], dict, Path]:
    test_file = tmp_path / "inner" / "test_inner.py"
    test_file.parent.mkdir()
    test_file.write_text(textwrap.dedent(source))
    temp = tmp_path / "inner-tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--smlocal",
        "--sm-image",
        sm_image,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--rootdir",
        str(test_file.parent),
        "--basetemp",
        str(tmp_path / "inner-basetemp"),
        "-q",
        str(test_file),
    ]
    return command, env, temp


# What VS Code's Test Explorer shows on a failed test is the report's longreprtext.
FAILURE_MESSAGE_RECORDER = """
import json, pathlib

def pytest_runtest_logreport(report):
    if report.failed:
        pathlib.Path(__file__).with_name("messages.json").write_text(
            json.dumps({"when": report.when, "message": report.longreprtext})
        )
"""


def test_failing_job_error_and_log_tail_are_the_failure_message(tmp_path, sm_image):
    command, env, _ = _inner_pytest(tmp_path, INNER_FAILING_TEST, sm_image)
    (tmp_path / "inner" / "conftest.py").write_text(FAILURE_MESSAGE_RECORDER)
    completed = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    recorded = json.loads((tmp_path / "inner" / "messages.json").read_text())
    message = recorded["message"]
    first, *rest = message.splitlines()
    assert first.startswith("job 'evaluation' failed in its container with exit code 2;"), message
    header = rest.index("container log of job 'evaluation' (last lines):")
    assert rest[header + 1].strip(), message  # the log tail follows the header
    # Where the test asked for the job, not the path through mlmax and the SDK.
    assert "test_inner.py:" in message and "sm_local.run(" in message
    assert "mlmax/localmode" not in message


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [
        (signal.SIGINT, pytest.ExitCode.INTERRUPTED),  # Ctrl-C
        (signal.SIGTERM, 128 + signal.SIGTERM),  # timeout, kill, CI cancellation, VS Code
        (signal.SIGHUP, 128 + signal.SIGHUP),  # the terminal closed
    ],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_a_signal_to_pytest_stops_the_job_and_leaves_nothing(tmp_path, sm_image, signum, exit_code):
    job_name = f"sleeper-{secrets.token_hex(3)}"
    source = INNER_SLEEPER_TEST.format(sleeper=SLEEPER, job_name=job_name)
    command, env, temp = _inner_pytest(tmp_path, source, sm_image)
    client = containers.docker_client()

    def running() -> list:
        found = client.containers.list(
            ignore_removed=True, filters={"label": f"{labels.JOB}={job_name}"}
        )
        return [c for c in found if c.status == "running"]

    inner = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
    )
    try:
        wait_for(running, 120, "the job's container to start")
        os.kill(inner.pid, signum)  # to the process alone, not its group
        output, _ = inner.communicate(timeout=60)
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.wait()
    text = output.decode(errors="replace")
    assert inner.returncode == exit_code, text
    assert (
        client.containers.list(
            ignore_removed=True, all=True, filters={"label": f"{labels.JOB}={job_name}"}
        )
        == []
    )
    assert list(temp.iterdir()) == [], "the interrupted run left files in its temp dir"
    # The interrupted session's own private directory went too, and its compose process.
    basetemp = tmp_path / "inner-basetemp"
    leftovers = [p for p in basetemp.rglob("mlmax-localmode-*")] if basetemp.exists() else []
    assert leftovers == []
    assert compose.processes_using(basetemp) == []

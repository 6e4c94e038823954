"""SIGTERM and SIGHUP to `mlmax pipeline`, `mlmax run` and `mlmax debug` clean up like Ctrl-C;
after SIGKILL the next start (or `mlmax clean`) sweeps what the killed session left.

Each signal goes to the mlmax process alone (os.kill, not its group), as `kill`, `timeout`
or a supervisor send it. Leftovers are looked for by the owner's pid label (containers), in
the private temp and work dirs the command was given (temp dirs), and in /proc (compose).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.localmode.engine import compose, containers, labels
from mlmax_census.data.generator import write_csv
from tests.support.leaks import wait_for

pytestmark = pytest.mark.smlocal


def _environment(tmp_path: Path) -> dict[str, str]:
    temp, work = tmp_path / "tmp", tmp_path / "work"
    temp.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(temp), "MLMAX_WORK_DIR": str(work)}


def _containers_of(pid: int) -> list:
    return containers.docker_client().containers.list(
        ignore_removed=True, all=True, filters={"label": f"{labels.OWNER_PID}={pid}"}
    )


def _running_container_of(pid: int) -> list:
    return [c for c in _containers_of(pid) if c.status == "running"]


def _assert_nothing_left(tmp_path: Path, pid: int) -> None:
    assert _containers_of(pid) == [], "containers left behind"
    for place in (tmp_path / "tmp", tmp_path / "work"):
        assert sorted(p.name for p in place.iterdir()) == [], f"files left in {place}"
        assert compose.processes_using(place) == [], f"processes still using {place}"


def _mlmax(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlmax", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    """Enough rows that a job is still running when the signal arrives."""
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "census.csv", 200_000, seed=5)
    return data


@pytest.mark.parametrize(
    ("command", "signum"),
    [("pipeline", signal.SIGTERM), ("run", signal.SIGHUP), ("debug", signal.SIGTERM)],
    ids=["pipeline-SIGTERM", "run-SIGHUP", "debug-SIGTERM"],
)
def test_sigterm_and_sighup_clean_up_like_ctrl_c(
    sm_image: str, tmp_path: Path, big_csv: Path, command: str, signum: int
) -> None:
    env = _environment(tmp_path)
    out = tmp_path / "out"
    args = {
        "pipeline": ["pipeline", "--input", str(big_csv / "census.csv"), "--output", str(out)],
        "run": ["run", "preprocessing", "--input", f"data={big_csv}", "--output", f"train={out}"],
        "debug": [
            "debug", "monitoring", "--input", f"baseline={big_csv}", "--input", f"data={big_csv}",
            "--output", f"monitoring={out}", "--port", "0", "--image", sm_image,
        ],
    }[command]  # fmt: skip
    process = _mlmax(args, env, tmp_path)
    try:
        if command == "debug":  # waits for a debugger: signal it once it says so
            assert process.stdout is not None
            for line in process.stdout:
                if "debugpy listening on" in line:
                    break
        wait_for(lambda: _running_container_of(process.pid), 180, "the job's container")
        os.kill(process.pid, signum)
    finally:
        _, err = _finish(process)
    assert process.returncode == 128 + signum, err
    assert f"error: interrupted ({signal.Signals(signum).name})" in err
    assert "Traceback" not in err
    _assert_nothing_left(tmp_path, process.pid)
    if command == "pipeline":
        record = json.loads((out / "pipeline.json").read_text())
        assert record["status"] == "interrupted"
        assert not (out / "report").exists()


def test_after_sigkill_the_next_start_sweeps_the_dead_run(
    sm_image: str, tmp_path: Path, big_csv: Path
) -> None:
    env = _environment(tmp_path)
    # The test's own registry of live runs: the user's is shared by every mlmax process of
    # theirs, and another session's sweep could mark the killed run's record first.
    env["MLMAX_CACHE_DIR"] = str(tmp_path / "cache")
    runs = tmp_path / "runs"
    killed_run = runs / "killed"
    process = _mlmax(
        ["pipeline", "--input", str(big_csv / "census.csv"), "--output", str(killed_run)],
        env,
        tmp_path,
    )
    try:
        wait_for(lambda: _running_container_of(process.pid), 180, "the job's container")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        _finish(process)
    # SIGKILL runs no clean-up: this is what the next start must sweep. The orphaned
    # container may be reaped by any other live session on this shared engine first (that is
    # the design), so only its absence afterwards is asserted, not who removed it.
    assert list((tmp_path / "work").glob("mlmax-localmode-*")) != []
    assert json.loads((killed_run / "pipeline.json").read_text())["status"] == "running"

    following = subprocess.run(
        [sys.executable, "-m", "mlmax", "pipeline", "--runner", "host", "--rows", "500",
         "--output", str(runs / "next")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert following.returncode == 0, following.stderr
    swept = [line for line in following.stderr.splitlines() if line.startswith("swept")]
    assert len(swept) == 1, following.stderr
    assert f"({process.pid})" in swept[0]
    assert "temp dir" in swept[0] and "run record" in swept[0]
    _assert_nothing_left(tmp_path, process.pid)
    record = json.loads((killed_run / "pipeline.json").read_text())
    assert record["status"] == "killed"
    assert all(step["status"] != "running" for step in record["steps"])


INNER_SLEEPER_TEST = """
import pytest
from mlmax.project.catalog import Channel, JobDefinition, JobRun
from mlmax.localmode.run.container_run import run_job

@pytest.mark.smlocal
def test_sleeps(sm_localmode, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "sleeper.py").write_text("import time\\ntime.sleep(600)\\n")
    job = JobDefinition("sleeper", "sleeper.py", "processing", (),
                        (Channel("out", "--out", "/opt/ml/processing/output"),))
    run_job(JobRun(job, inputs={}, outputs={"out": tmp_path / "out"}),
            image=sm_localmode.image, session=sm_localmode.session, code_dir=code)
"""


# Where the killed run's session dir is, in the temp root (TMPDIR): under pytest's default
# basetemp; with a --basetemp elsewhere (a place no later run's sweep looks), directly in it.
SESSION_DIR_OF = {
    "default basetemp": ([], "pytest-of-*/pytest-*/mlmax-localmode-*"),
    "own --basetemp": (["--basetemp", "{tmp_path}/own-basetemp"], "mlmax-localmode-*"),
}


@pytest.mark.parametrize("basetemp", SESSION_DIR_OF)
def test_mlmax_clean_lists_and_removes_what_a_sigkilled_pytest_left(
    sm_image: str, tmp_path: Path, basetemp: str
) -> None:
    basetemp_args, session_dirs = SESSION_DIR_OF[basetemp]
    env = _environment(tmp_path)
    env.pop("MLMAX_WORK_DIR")  # the plugin's session dir is under pytest's basetemp in TMPDIR
    test_file = tmp_path / "inner" / "test_inner.py"
    test_file.parent.mkdir()
    test_file.write_text(INNER_SLEEPER_TEST)
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--smlocal", "--sm-image", sm_image, "-p",
         "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(test_file.parent), "-q",
         *(arg.format(tmp_path=tmp_path) for arg in basetemp_args), str(test_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_for(lambda: _running_container_of(inner.pid), 180, "the job's container")
        os.kill(inner.pid, signal.SIGKILL)
    finally:
        # On a failure above, SIGKILL it anyway so the wait cannot mask the real error.
        if inner.poll() is None:
            inner.kill()
        inner.wait(timeout=60)
    left_dirs = list((tmp_path / "tmp").glob(session_dirs))
    assert left_dirs != []  # (its container may be reaped by another live session first)

    clean = subprocess.run(
        [sys.executable, "-m", "mlmax", "clean", "--runs", str(tmp_path / "runs")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    table = clean.stdout.splitlines()
    assert table[0].split() == ["kind", "what", "owner", "pid"]
    assert any(row.startswith("temp dir") and str(left_dirs[0]) in row for row in table)
    assert _containers_of(inner.pid) == []
    assert list((tmp_path / "tmp").glob(session_dirs)) == []
    assert compose.processes_using(tmp_path / "tmp") == []

"""The host runner: the job script as a subprocess with the channel arguments of the catalogue."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlmax.common import MissingExtraError
from mlmax.project.catalog import JOBS, Channel, JobDefinition, JobRun
from mlmax.runners import Runner, StepFailed
from mlmax.runners.host import HostRunner, job_command


def test_command_passes_every_channel_as_its_argument(tmp_path: Path) -> None:
    run = JobRun(
        JOBS["preprocessing-infer"],
        {"data": tmp_path / "raw", "proc_model": tmp_path / "pm"},
        {"features": tmp_path / "out"},
        ("--seed", "3"),
    )
    command = job_command(run)
    assert command[:2] == [sys.executable, str(JOBS["preprocessing-infer"].script_path)]
    rest = command[2:]
    assert rest[rest.index("--input-dir") + 1] == str(tmp_path / "raw")
    assert rest[rest.index("--proc-model-dir") + 1] == str(tmp_path / "pm")
    assert rest[rest.index("--output-dir") + 1] == str(tmp_path / "out")
    # The catalogue's default arguments come first so the run's own ones win.
    assert rest[-4:] == ["--mode", "infer", "--seed", "3"]


def test_relative_channel_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job runs in a scratch working directory, so a relative run directory (the CLI's
    # default `runs/...`) must reach it as an absolute path.
    monkeypatch.chdir(tmp_path)
    run = JobRun(JOBS["monitoring"], {"data": Path("runs/new")}, {"monitoring": Path("runs/m")})
    rest = job_command(run)[2:]
    assert rest[rest.index("--input-dir") + 1] == str(tmp_path / "runs/new")
    assert rest[rest.index("--output-dir") + 1] == str(tmp_path / "runs/m")


class _StandIn(JobDefinition):
    @property
    def script_path(self) -> Path:  # type: ignore[override]
        return self.__dict__["_script"]


def _stand_in(tmp_path: Path, body: str) -> JobDefinition:
    script = tmp_path / "job.py"
    script.write_text(body)
    job = _StandIn(
        name="stand-in",
        script="job.py",
        kind="processing",
        inputs=(),
        outputs=(Channel("out", "--out", "/opt/ml/processing/out"),),
    )
    object.__setattr__(job, "_script", script)
    return job


SUCCEEDS = """
import argparse, os, pathlib, sys
p = argparse.ArgumentParser(); p.add_argument("--out", default="/opt/ml/processing/out")
p.add_argument("--word")
a = p.parse_args()
pathlib.Path(a.out, "word.txt").write_text(a.word)
print("cwd", os.getcwd()); print("channel", os.environ.get("SM_CHANNEL_TRAIN"))
"""

FAILS = """
import sys
for i in range(40):
    print("line", i)
print("error: column 'age' is missing; add it", file=sys.stderr)
sys.exit(2)
"""


def test_a_successful_job_writes_its_output_and_returns_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    job = _stand_in(tmp_path, SUCCEEDS)
    out = tmp_path / "out"
    with HostRunner() as runner:
        assert isinstance(runner, Runner)
        result = runner.run_step(JobRun(job, {}, {"out": out}, ("--word", "hello")))
    assert (out / "word.txt").read_text() == "hello"
    assert result.duration_seconds > 0
    # A scratch working directory, not the caller's, and no SageMaker environment leaks in.
    assert f"cwd {Path.cwd()}\n" not in result.log
    assert "channel None" in result.log


def test_a_failing_job_raises_with_exit_code_error_line_and_log_tail(tmp_path: Path) -> None:
    job = _stand_in(tmp_path, FAILS)
    with HostRunner() as runner, pytest.raises(StepFailed) as caught:
        runner.run_step(JobRun(job, {}, {"out": tmp_path / "out"}))
    failure = caught.value
    assert failure.exit_code == 2
    assert failure.error_line == "column 'age' is missing; add it"
    message = str(failure)
    assert message.startswith("job 'stand-in' exited with code 2; last lines of its log:")
    assert "line 39" in message and "line 5\n" not in message  # only the tail


def test_a_job_over_its_timeout_is_stopped(tmp_path: Path) -> None:
    job = _stand_in(tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    with HostRunner(timeout_seconds=1) as runner, pytest.raises(StepFailed) as caught:
        runner.run_step(JobRun(job, {}, {"out": tmp_path / "out"}))
    assert "did not finish within 1 s" in str(caught.value)
    assert "started" in caught.value.log


def test_the_scratch_directory_is_removed_after_the_run(tmp_path: Path) -> None:
    job = _stand_in(tmp_path, SUCCEEDS)
    with HostRunner() as runner:
        runner.run_step(JobRun(job, {}, {"out": tmp_path / "out"}, ("--word", "x")))
        scratch = Path(runner._workdir.name)  # type: ignore[union-attr]
        assert scratch.is_dir()
    assert not scratch.exists()


def test_the_runner_must_be_entered(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="context manager"):
        HostRunner().run_step(JobRun(_stand_in(tmp_path, SUCCEEDS), {}, {}))


def test_only_mlmax_s_own_jobs_need_the_census_extra_on_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The census sample's libraries hidden from this Python, as without mlmax[census]: a
    # project's own job still runs (its imports are the project's), mlmax's own is refused.
    for name in ("pandas", "sklearn"):
        monkeypatch.setitem(sys.modules, name, None)
    own = JobRun(_stand_in(tmp_path, SUCCEEDS), {}, {"out": tmp_path / "out"}, ("--word", "hi"))
    census = JobRun(JOBS["monitoring"], {"data": tmp_path}, {"monitoring": tmp_path / "m"})
    with HostRunner() as runner:
        runner.run_step(own)
        with pytest.raises(MissingExtraError, match=r"^the monitoring job on the host runner "):
            runner.run_step(census)
    assert (tmp_path / "out" / "word.txt").read_text() == "hi"
    assert not (tmp_path / "m").exists()


# A job that outlives Ctrl-C for a while (as a job finishing a write would), filling its
# working directory as fast as it can.
KEEPS_WRITING = """
import os, signal, itertools
signal.signal(signal.SIGINT, signal.SIG_IGN)
open("started", "w").close()
for n in itertools.count():
    with open(f"part-{n % 500}", "w") as part:
        part.write("x" * 100)
"""


def test_leaving_the_runner_while_a_parallel_step_runs_stops_its_job_and_removes_everything(
    tmp_path: Path,
) -> None:
    """What Ctrl-C in a parallel pipeline does: the main thread leaves the runner while a
    step's thread still waits on its job."""
    import threading

    from mlmax.common.waiting import wait_until

    job = _stand_in(tmp_path, KEEPS_WRITING)
    runner = HostRunner().__enter__()
    workdir = Path(runner._workdir.name)  # type: ignore[union-attr]
    outcome: list[BaseException | object] = []

    def step() -> None:
        try:
            outcome.append(runner.run_step(JobRun(job, {}, {"out": tmp_path / "out"})))
        except BaseException as error:  # what the step's thread saw
            outcome.append(error)

    thread = threading.Thread(target=step)
    thread.start()
    wait_until(lambda: any(workdir.rglob("started")), timeout=60, what="the job writing")
    runner.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)  # raises nothing
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert not workdir.exists()
    [seen] = outcome
    assert isinstance(seen, StepFailed) and seen.exit_code == -9  # killed, not left running

"""The `mlmax` command: help, exit codes, bad arguments and bad input, each command's work."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlmax.cli import main
from mlmax.common.waiting import wait_until
from mlmax.localmode.engine.ports import port_is_free
from mlmax_census.data.generator import write_csv
from mlmax_census.jobs import schema
from tests.support.foreground import foreground_job
from tests.support.xdist_groups import DEFAULT_DEBUG_PORT

COMMANDS = [
    [],
    ["pipeline"],
    ["pipeline", "export"],
    ["run"],
    ["debug"],
    ["image"],
    ["image", "build"],
    ["image", "ls"],
    ["image", "prune"],
    ["data"],
    ["data", "generate"],
    ["doctor"],
    ["serve"],
    ["vscode"],
    ["clean"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mlmax")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mlmax {' '.join(command)}".rstrip())
    assert "Traceback" not in out


def test_python_dash_m_mlmax_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlmax", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in ("pipeline", "run", "debug", "image", "data", "doctor"):
        assert command in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["pipeline", "--rows", "0"], "argument --rows: must be at least 1, got 0"),
        (["pipeline", "--rows", "many"], "argument --rows: 'many' is not a whole number"),
        (["pipeline", "--runner", "cloud"], "argument --runner: invalid choice: 'cloud'"),
        (["pipeline", "--model-type", "svm"], "argument --model-type: invalid choice: 'svm'"),
        (["pipeline", "--drift", "-1"], "argument --drift: must be 0 or more"),
        (["data", "generate", "--rows", "5"], "the following arguments are required: --output"),
        (["run", "nojob"], "unknown job 'nojob'; choose one of:"),
        (["image"], "the following arguments are required: ACTION"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


def test_job_arguments_are_only_for_run_and_debug(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--", "--x"]) == 2
    assert "runs no single job" in _error_line(capsys)


# --- mlmax pipeline: bad input is refused before anything is created ----------------------


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(schema.REQUIRED) + "\n")
    frame = pd.read_csv(write_csv(tmp_path / "good.csv", 50, 1))
    no_label = tmp_path / "nolabel.csv"
    frame.drop(columns=["income"]).to_csv(no_label, index=False)
    no_age = tmp_path / "noage.csv"
    frame.drop(columns=["age"]).to_csv(no_age, index=False)
    one_row = tmp_path / "one.csv"
    frame.head(1).to_csv(one_row, index=False)
    ten_rows = write_csv(tmp_path / "ten.csv", 10, 1)  # 9 of one label, 1 of the other
    one_class = tmp_path / "oneclass.csv"
    frame.assign(income=frame["income"].iloc[0]).to_csv(one_class, index=False)
    twice = tmp_path / "twice.csv"
    pd.concat([frame, frame[["income"]]], axis=1).to_csv(twice, index=False)
    return {
        "one row": (one_row, "too few rows"),
        "ten rows": (ten_rows, "too few rows: 10 usable rows"),
        "one class": (one_class, "only one class"),
        "income twice": (twice, "names the column(s) 'income' more than once"),
        "missing": (tmp_path / "nope.csv", "does not exist"),
        "directory": (tmp_path, "is not a file"),
        "empty": (empty, "is empty"),
        "header only": (header_only, "has a header but no data rows"),
        "no label": (no_label, "lacks the required column(s) 'income'"),
        "no age": (no_age, "lacks the required column(s) 'age'"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing", "directory", "empty", "header only", "no label", "no age",
        "one row", "ten rows", "one class", "income twice",
    ],
)  # fmt: skip
def test_pipeline_refuses_a_bad_input_file_up_front(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    path, message = _bad_inputs(tmp_path / "in")[case]
    output = tmp_path / "run"
    assert (
        main(["pipeline", "--runner", "host", "--input", str(path), "--output", str(output)]) == 2
    )
    line = _error_line(capsys)
    assert message in line and str(path) in line
    assert not output.exists(), "a refused run must leave nothing behind"


def test_pipeline_refuses_bad_new_data_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "new.csv"
    empty.write_text("")
    output = tmp_path / "run"
    argv = ["pipeline", "--runner", "host", "--new-data", str(empty), "--output", str(output)]
    assert main(argv) == 2
    assert f"{empty} is empty" in _error_line(capsys)
    assert not output.exists()


def test_pipeline_refuses_a_non_empty_output_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["pipeline", "--runner", "host", "--output", str(tmp_path)]) == 2
    assert "already exists and is not empty" in _error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


# --- mlmax run ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def census_csvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("data")
    return (
        write_csv(folder / "baseline.csv", 800, 1),
        write_csv(folder / "new.csv", 800, 2, drift=1.0),
    )


def test_run_executes_one_job_on_the_host(
    census_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, new = census_csvs
    out = tmp_path / "monitoring"
    argv = [
        "run", "monitoring", "--runner", "host",
        "--input", f"baseline={baseline}", "--input", f"data={new}",
        "--output", f"monitoring={out}",
        "--", "--psi-threshold", "0.01",
    ]  # fmt: skip
    assert main(argv) == 0
    drift = json.loads((out / "drift.json").read_text())
    assert drift["threshold"] == 0.01  # the job argument after `--` reached the job
    assert drift["drift_detected"] is True
    assert "✓ monitoring finished in" in capsys.readouterr().out


def test_run_turns_a_jobs_input_error_into_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    argv = [
        "run", "monitoring", "--runner", "host",
        "--input", f"baseline={empty}", "--input", f"data={empty}",
        "--output", f"monitoring={tmp_path / 'out'}",
    ]  # fmt: skip
    assert main(argv) == 2
    assert f"error: {empty} is empty" in _error_line(capsys)
    assert not any((tmp_path / "out").glob("*.json"))


def test_run_reports_a_failing_job_with_its_log_tail(
    census_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, new = census_csvs
    argv = [
        "run", "monitoring", "--runner", "host",
        "--input", f"baseline={baseline}", "--input", f"data={new}",
        "--output", f"monitoring={tmp_path / 'out'}", "--", "--bins", "many",
    ]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "job 'monitoring' exited with code 2; last lines of its log:" in err
    assert "--bins" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "baseline"], "is not NAME=PATH"),
        (["--input", "weights=/tmp"], "job monitoring has no input 'weights'"),
        (["--output", "plots=/tmp/x"], "job monitoring has no output 'plots'"),
        (["--input", "baseline=/no/such"], "/no/such does not exist"),
        (["--input", "baseline=/tmp", "--input", "baseline=/tmp"], "is given twice"),
    ],
)
def test_run_refuses_bad_channels(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "monitoring", "--runner", "host", "--input", "data=/tmp", *extra]
    assert main(argv) == 2
    assert message in _error_line(capsys)


def test_run_names_the_missing_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "evaluation", "--runner", "host"]) == 2
    assert "job evaluation needs --input for model, test" in _error_line(capsys)


def test_debug_names_the_missing_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["debug", "evaluation"]) == 2
    assert "job evaluation needs --input for model, test" in _error_line(capsys)


def test_debug_runs_only_in_local_mode(capsys: pytest.CaptureFixture[str]) -> None:
    # A debugger attaches to the job's container; on the host, use the IDE's own debugger.
    assert main(["debug", "monitoring", "--runner", "host"]) == 2
    assert "invalid choice: 'host'" in capsys.readouterr().err


# --- mlmax data generate ------------------------------------------------------------------


def test_data_generate_writes_the_rows_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "census.csv"
    assert main(["data", "generate", "--rows", "321", "--seed", "5", "--output", str(target)]) == 0
    frame = pd.read_csv(target)
    assert len(frame) == 321
    assert set(schema.REQUIRED) <= set(frame.columns)
    assert f"✓ wrote 321 rows (seed 5, drift 0) to {target}" in capsys.readouterr().out


def test_data_generate_is_deterministic_and_drift_moves_the_data(tmp_path: Path) -> None:
    for name, seed, drift in (("a", 5, "0"), ("b", 5, "0"), ("c", 5, "1")):
        argv = ["data", "generate", "--rows", "400", "--seed", str(seed), "--drift", drift]
        assert main([*argv, "--output", str(tmp_path / f"{name}.csv")]) == 0
    a, b, c = (pd.read_csv(tmp_path / f"{n}.csv") for n in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert c["age"].mean() > a["age"].mean() + 3


def test_data_generate_will_not_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "census.csv"
    target.write_text("mine")
    assert main(["data", "generate", "--rows", "10", "--output", str(target)]) == 2
    assert "already exists" in _error_line(capsys)
    assert target.read_text() == "mine"
    assert main(["data", "generate", "--rows", "10", "--output", str(target), "--force"]) == 0
    assert len(pd.read_csv(target)) == 10


def test_data_generate_into_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "generate", "--rows", "10", "--output", str(tmp_path), "--force"]) == 2
    assert "is a directory" in _error_line(capsys)


# --- mlmax doctor -------------------------------------------------------------------------


def test_doctor_reports_every_check_with_a_mark(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line[:2] in ("✓ ", "✗ ")]
    names = [line[2:].split(":")[0] for line in lines]
    assert names[:4] == ["docker CLI", "Docker daemon", "Docker Compose", "Disk space"]
    assert names[-2:] == ["SageMaker SDK", "Debug port 5678"]
    if lines[1].startswith("✓"):  # with a daemon, the images are checked too
        assert names[4:6] == ["Base image", "Job image"]
    failed = [line for line in lines if line.startswith("✗")]
    assert code == (1 if failed else 0)
    assert out.count("    fix: ") == len(failed)


def test_doctor_fails_with_the_fix_when_the_daemon_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ Docker daemon: cannot reach" in out
    assert "fix: Start the Docker daemon" in out


@DEFAULT_DEBUG_PORT
def test_doctor_fails_when_the_debug_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    if not port_is_free(5678):
        pytest.fail("port 5678 is already taken on this machine; free it to run this test")
    with socket.socket() as holder:
        # As a real listener does: a recent connection's TIME_WAIT must not stop the test.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 5678))
        holder.listen()
        assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ Debug port 5678: 127.0.0.1:5678 is in use" in out
    assert "--inspect-port" in out


# --- mlmax image --------------------------------------------------------------------------


@pytest.mark.parametrize("action", [["ls"], ["prune"], ["build"]])
def test_image_commands_without_docker_fail_with_one_line(
    action: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert main(["image", *action]) == 1
    line = _error_line(capsys)
    assert "Docker daemon" in line
    assert "Traceback" not in line


@pytest.mark.smlocal
def test_image_build_reuses_the_current_image_and_ls_lists_it(
    sm_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["image", "build"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("✓ job image mlmax-job:")
    tag = out.split()[3]
    assert main(["image", "ls"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["image", "role", "debugpy", "size", "created"]
    assert any(line.split()[:3] == [tag, "job", "yes"] for line in listing[2:])


def test_the_default_runner_is_local_mode() -> None:
    from mlmax.cli import build_parser

    assert build_parser().parse_args(["pipeline"]).runner == "local"
    assert build_parser().parse_args(["run", "train"]).runner == "local"


# --- Ctrl-C, SIGTERM, SIGHUP ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "exit_code", "name"),
    [
        (signal.SIGINT, 130, "Ctrl-C"),
        (signal.SIGTERM, 143, "SIGTERM"),
        (signal.SIGHUP, 129, "SIGHUP"),
    ],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_a_signal_during_a_pipeline_marks_the_run_interrupted_and_leaves_no_report(
    tmp_path: Path, signum: int, exit_code: int, name: str
) -> None:
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "mlmax", "pipeline", "--runner", "host"]
    with foreground_job([*command, "--rows", "3000", "--output", str(run_dir)]) as process:
        record = run_dir / "pipeline.json"
        wait_until(  # the first job is running
            lambda: (
                record.is_file()
                and '"status": "running"' in record.read_text().split('"steps"')[-1]
            ),
            timeout=60,
            what="the pipeline's first step",
            interval=0.05,
        )
        if signum == signal.SIGINT:
            os.killpg(process.pid, signum)  # what Ctrl-C in a terminal does
        else:
            os.kill(process.pid, signum)  # to the process alone, as `kill` or `timeout` do
        _, err = process.communicate(timeout=60)
    assert process.returncode == exit_code, err
    assert f"error: interrupted ({name})" in err
    data = json.loads(record.read_text())
    assert data["status"] == "interrupted"
    assert data["error"] == f"interrupted ({name})"
    assert data["report"] is None
    assert not (run_dir / "report").exists()
    assert "Traceback" not in err


@pytest.mark.smlocal
def test_run_in_local_mode_prints_the_jobs_log_not_the_sdks_compose_chatter(
    sm_image: str,
    census_csvs: tuple[Path, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    baseline, new = census_csvs
    out = tmp_path / "monitoring"
    argv = [
        "run", "monitoring",
        "--input", f"baseline={baseline}", "--input", f"data={new}",
        "--output", f"monitoring={out}",
    ]  # fmt: skip
    assert main(argv) == 0
    stdout = capfd.readouterr().out
    assert json.loads((out / "drift.json").read_text())["drift_detected"] is True
    assert stdout.count("monitoring: drift detected: yes") == 1
    assert "Attaching to" not in stdout
    assert "✓ monitoring finished in" in stdout


def test_pipeline_on_a_users_file_scores_and_monitors_that_file(
    census_csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, _ = census_csvs
    run_dir = tmp_path / "run"
    argv = ["pipeline", "--runner", "host", "--input", str(baseline), "--output", str(run_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"Report: {run_dir / 'report' / 'report.md'}" in out
    assert out.splitlines()[0].split() == ["step", "status", "duration", "key", "metrics"]
    record = json.loads((run_dir / "pipeline.json").read_text())
    assert record["options"]["train_data"] == str(baseline)
    assert record["options"]["new_data"] == "same file as train_data"
    # ...and the run directory holds that file once, not a copy per input.
    staged = [run_dir / "inputs" / name / baseline.name for name in ("train_data", "new_data")]
    assert staged[0].samefile(staged[1])
    # The same data on both sides: nothing drifts, and every row of the file is scored.
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["monitoring"]["metrics"]["drifted"] == 0
    assert steps["inference"]["metrics"]["rows"] == len(pd.read_csv(baseline))
    # The batch's labels are kept apart from its features for the report's accuracy.
    labels = pd.read_csv(run_dir / "preprocessing-infer/labels/infer_labels.csv")
    assert len(labels) == len(pd.read_csv(baseline))

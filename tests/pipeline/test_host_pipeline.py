"""The whole census pipeline on the host runner: every output, pipeline.json, failure paths."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlmax.pipeline import (
    Pipeline,
    PipelineInput,
    Step,
    StepRecord,
    load_record,
)
from mlmax.pipeline import run_pipeline as execute
from mlmax.pipeline.execute import REPORT_DIR
from mlmax.pipeline.run_record import RECORD_FILE
from mlmax.runners.host import HostRunner
from mlmax_census.data.generator import write_csv
from mlmax_census.pipeline import DataSpec, TrainingOptions, run_census
from mlmax_census.report import REPORT_FILES, write_report

ROWS = 5000

EXPECTED_OUTPUTS = {
    "preprocessing/train": {"train_features.csv", "train_labels.csv"},
    "preprocessing/test": {"test_features.csv", "test_labels.csv"},
    "preprocessing/proc_model": {"proc_model.tar.gz"},
    "train/model": {"model.joblib"},
    "evaluation/evaluation": {"evaluation.json"},
    "inference/predictions": {"predictions.csv"},
    "monitoring/monitoring": {"baseline.json", "drift.json"},
}


@pytest.fixture(scope="module")
def host_census(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, bool]]]:
    """The census pipeline on the host: its run directory, and each step's start and end
    (name, finished) in the order the scheduler announced them."""
    run_dir = tmp_path_factory.mktemp("host-run") / "run"
    announced: list[tuple[str, bool]] = []

    def listen(step: StepRecord, index: int, total: int, finished: bool) -> None:
        announced.append((step.name, finished))

    with HostRunner() as runner:
        run_census(
            runner,
            run_dir,
            DataSpec(rows=ROWS, seed=11),
            TrainingOptions(seed=11),
            on_step=listen,
            write_report=write_report,
        )
    return run_dir, announced


@pytest.fixture(scope="module")
def host_run(host_census: tuple[Path, list[tuple[str, bool]]]) -> Path:
    return host_census[0]


def test_every_step_writes_its_contract_outputs(host_run: Path) -> None:
    for directory, names in EXPECTED_OUTPUTS.items():
        found = {p.name for p in (host_run / directory).iterdir()}
        assert names <= found, f"{directory} holds {sorted(found)}"
    assert (host_run / "preprocessing-infer/features/infer_features.csv").is_file()
    predictions = pd.read_csv(host_run / "inference/predictions/predictions.csv")
    features = pd.read_csv(host_run / "preprocessing-infer/features/infer_features.csv")
    assert len(predictions) == len(features)
    assert set(predictions["prediction"]) <= {0, 1}
    assert predictions["probability"].between(0, 1).all()


def test_pipeline_json_records_steps_durations_status_and_metrics(host_run: Path) -> None:
    data = json.loads((host_run / RECORD_FILE).read_text())
    assert data["status"] == "succeeded"
    assert data["runner"] == "host"
    assert data["report"] == REPORT_DIR
    assert [s["name"] for s in data["steps"]] == [
        "preprocessing",
        "train",
        "evaluation",
        "preprocessing-infer",
        "inference",
        "monitoring",
    ]
    for step in data["steps"]:
        assert step["status"] == "succeeded"
        assert step["duration_seconds"] > 0
        assert (host_run / step["log"]).is_file()
        for relative in step["outputs"].values():
            assert (host_run / relative).is_dir()
    evaluation = json.loads((host_run / "evaluation/evaluation/evaluation.json").read_text())
    steps = {s["name"]: s for s in data["steps"]}
    assert steps["evaluation"]["metrics"] == pytest.approx(evaluation["metrics"])
    assert 0.6 < steps["evaluation"]["metrics"]["roc_auc"] <= 1.0
    assert "test_roc_auc" in steps["train"]["metrics"]
    assert steps["inference"]["metrics"]["rows"] == ROWS
    assert steps["monitoring"]["metrics"]["features"] >= 5
    # The generated new data is drifted on purpose, so monitoring has something to flag.
    assert steps["monitoring"]["metrics"]["drifted"] >= 1
    assert steps["preprocessing"]["arguments"][:2] == ["--mode", "train"]
    assert "--seed" in steps["train"]["arguments"]


def test_the_report_is_complete(host_run: Path) -> None:
    from tests.census.report.conftest import assert_valid_png

    report = host_run / REPORT_DIR
    assert sorted(p.name for p in report.iterdir()) == sorted(REPORT_FILES)
    for png in report.glob("*.png"):
        assert_valid_png(png)
    assert not list(host_run.glob(".report-*")), "the staging directory was left behind"


def test_a_failing_step_fails_the_run_and_leaves_no_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with HostRunner() as runner:
        # C must be positive: scikit-learn refuses -1, so training fails for real.
        record = run_census(
            runner,
            run_dir,
            DataSpec(rows=600, seed=3),
            TrainingOptions(seed=3, c=-1.0),
            write_report=write_report,
        )
    assert record.status == "failed"
    assert "step 'train'" in (record.error or "")
    on_disk = load_record(run_dir)
    statuses = {s.name: s.status for s in on_disk.steps}
    assert statuses["preprocessing"] == "succeeded"
    assert statuses["train"] == "failed"
    assert statuses["evaluation"] == statuses["inference"] == "pending"
    # Monitoring needs nothing from training, so it may have run alongside.
    assert statuses["monitoring"] in ("pending", "succeeded")
    assert on_disk.report is None
    assert not (run_dir / REPORT_DIR).exists()
    assert "--c: must be greater than 0" in (run_dir / "logs/train.log").read_text()
    assert on_disk.step("train").error == "exited with code 2"


def _monitoring_only() -> Pipeline:
    return Pipeline(
        "monitor",
        ("raw",),
        (
            Step(
                "monitoring",
                "monitoring",
                {"baseline": PipelineInput("raw"), "data": PipelineInput("raw")},
            ),
        ),
    )


def test_a_failing_report_fails_the_run_and_leaves_no_report(tmp_path: Path) -> None:
    def broken_report(run_dir: Path, record: object, out: Path) -> None:
        (out / "report.md").write_text("half a report")
        raise RuntimeError("disk full")

    raw = tmp_path / "raw.csv"
    write_csv(raw, 300, 1, 0.0)
    run_dir = tmp_path / "run"
    with HostRunner() as runner:
        record = execute(
            _monitoring_only(), runner, {"raw": raw}, run_dir, write_report=broken_report
        )
    assert record.steps[0].status == "succeeded"
    assert record.status == "failed"
    assert record.error == "report: RuntimeError: disk full"
    assert not (run_dir / REPORT_DIR).exists()
    assert not list(run_dir.glob(".report-*"))
    assert load_record(run_dir).status == "failed"


def test_steps_are_announced_before_and_after_they_run(tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    write_csv(raw, 300, 1, 0.0)
    seen: list[tuple[str, str, int, int, bool]] = []

    def listen(step: StepRecord, index: int, total: int, finished: bool) -> None:
        seen.append((step.name, step.status, index, total, finished))

    with HostRunner() as runner:
        record = execute(_monitoring_only(), runner, {"raw": raw}, tmp_path / "run", on_step=listen)
    assert record.status == "succeeded"
    assert seen == [
        ("monitoring", "running", 1, 1, False),
        ("monitoring", "succeeded", 1, 1, True),
    ]


def test_independent_steps_run_side_by_side_on_the_host(
    host_census: tuple[Path, list[tuple[str, bool]]],
) -> None:
    _, announced = host_census
    running: set[str] = set()
    alongside: dict[str, set[str]] = {}  # a step -> the steps already running when it started
    for name, finished in announced:
        if finished:
            running.discard(name)
        else:
            alongside[name] = set(running)
            running.add(name)
    # Monitoring needs only the new data: it starts while preprocessing still runs. Two at a
    # time, never more.
    assert alongside["monitoring"] == {"preprocessing"}, announced
    assert sum(1 for others in alongside.values() if others) >= 2, announced
    assert all(len(others) <= 1 for others in alongside.values()), announced


def test_one_step_at_a_time_when_the_runner_asks_for_it(tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    write_csv(raw, 300, 1, 0.0)
    pipeline = Pipeline(
        "two",
        ("raw",),
        tuple(
            Step(
                name, "monitoring", {"baseline": PipelineInput("raw"), "data": PipelineInput("raw")}
            )
            for name in ("first", "second")
        ),
    )
    events: list[tuple[str, bool]] = []
    with HostRunner(max_parallel_steps=1) as runner:
        record = execute(
            pipeline, runner, {"raw": raw}, tmp_path / "run",
            on_step=lambda step, i, n, finished: events.append((step.name, finished)),
        )  # fmt: skip
    assert record.status == "succeeded"
    assert events == [("first", False), ("first", True), ("second", False), ("second", True)]


def test_an_error_outside_a_step_ends_the_record(tmp_path: Path) -> None:
    # Progress printing to a closed terminal (EPIPE) breaks the run outside any job.
    def closed_terminal(step: StepRecord, index: int, total: int, finished: bool) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    raw = tmp_path / "raw.csv"
    write_csv(raw, 300, 1, 0.0)
    run_dir = tmp_path / "run"
    with HostRunner() as runner, pytest.raises(BrokenPipeError):
        execute(_monitoring_only(), runner, {"raw": raw}, run_dir, on_step=closed_terminal)
    on_disk = load_record(run_dir)
    assert on_disk.status == "failed"
    assert on_disk.error == "BrokenPipeError: [Errno 32] Broken pipe"
    assert [s.status for s in on_disk.steps] == ["failed"]


def test_a_running_record_is_noted_in_the_cache_until_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlmax.pipeline.live_runs import noted_run_dirs

    monkeypatch.setenv("MLMAX_CACHE_DIR", str(tmp_path / "cache"))
    raw = tmp_path / "raw.csv"
    write_csv(raw, 300, 1, 0.0)
    run_dir = tmp_path / "elsewhere" / "run"
    seen: list[list[Path]] = []

    def note_while_running(step: StepRecord, index: int, total: int, finished: bool) -> None:
        seen.append(noted_run_dirs())

    with HostRunner() as runner:
        execute(_monitoring_only(), runner, {"raw": raw}, run_dir, on_step=note_while_running)
    assert seen and all(noted == [run_dir.resolve()] for noted in seen)
    assert noted_run_dirs() == [], "an ended run's note must go"

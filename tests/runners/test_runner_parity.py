"""The same pipeline, same seed, on the host and in Local Mode containers: same results."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mlmax.pipeline import RunRecord
from mlmax.runners import Runner
from mlmax.runners.host import HostRunner
from mlmax.runners.local import LocalModeRunner
from mlmax_census.pipeline import DataSpec, TrainingOptions, run_census
from mlmax_census.report import REPORT_FILES, write_report

pytestmark = pytest.mark.smlocal

ROWS = 2000
SEED = 21


def _run(runner: Runner, run_dir: Path) -> RunRecord:
    with runner:
        return run_census(
            runner,
            run_dir,
            DataSpec(rows=ROWS, seed=SEED),
            TrainingOptions(seed=SEED, model_type="random_forest", n_estimators=30),
            write_report=write_report,
        )


@pytest.fixture(scope="module")
def runs(sm_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("parity")
    host = _run(HostRunner(), base / "host")
    local = _run(LocalModeRunner(image=sm_image), base / "local")
    assert host.status == "succeeded", host.error
    assert local.status == "succeeded", local.error
    return {"host": base / "host", "local": base / "local"}


def _json(run_dir: Path, relative: str) -> dict:
    return json.loads((run_dir / relative).read_text())


def test_both_runners_produce_the_same_evaluation(runs: dict[str, Path]) -> None:
    host = _json(runs["host"], "evaluation/evaluation/evaluation.json")
    local = _json(runs["local"], "evaluation/evaluation/evaluation.json")
    assert local["metrics"] == pytest.approx(host["metrics"], abs=1e-12)
    assert local["confusion_matrix"] == host["confusion_matrix"]
    assert local["n_samples"] == host["n_samples"]


def test_both_runners_produce_the_same_predictions_and_drift(runs: dict[str, Path]) -> None:
    host = pd.read_csv(runs["host"] / "inference/predictions/predictions.csv")
    local = pd.read_csv(runs["local"] / "inference/predictions/predictions.csv")
    pd.testing.assert_frame_equal(local, host, check_exact=False, atol=1e-12)
    host_drift = _json(runs["host"], "monitoring/monitoring/drift.json")
    local_drift = _json(runs["local"], "monitoring/monitoring/drift.json")
    assert local_drift == host_drift


def test_the_model_is_packed_by_sagemaker_in_local_mode_and_plain_on_the_host(
    runs: dict[str, Path],
) -> None:
    assert [p.name for p in (runs["host"] / "train/model").iterdir()] == ["model.joblib"]
    assert [p.name for p in (runs["local"] / "train/model").iterdir()] == ["model.tar.gz"]


def test_both_runs_record_the_same_key_metrics_and_a_full_report(runs: dict[str, Path]) -> None:
    host = _json(runs["host"], "pipeline.json")
    local = _json(runs["local"], "pipeline.json")
    assert (host["runner"], local["runner"]) == ("host", "local")
    for host_step, local_step in zip(host["steps"], local["steps"], strict=True):
        assert local_step["status"] == "succeeded"
        # The training metrics come from the container's log on one side, stdout on the other.
        assert local_step["metrics"] == pytest.approx(host_step["metrics"]), local_step["name"]
    for run_dir in runs.values():
        assert sorted(p.name for p in (run_dir / "report").iterdir()) == sorted(REPORT_FILES)


def test_every_data_output_is_byte_identical(runs: dict[str, Path]) -> None:
    """The strongest form of parity, for every step that writes data: the same bytes.

    (This suite's one host/container parity layer: the per-job comparison on the chain's
    container outputs was merged into it.)
    """
    outputs = [
        "preprocessing/train/train_features.csv",
        "preprocessing/train/train_labels.csv",
        "preprocessing/test/test_features.csv",
        "preprocessing/test/test_labels.csv",
        "preprocessing-infer/features/infer_features.csv",
        "inference/predictions/predictions.csv",
        "monitoring/monitoring/baseline.json",
        "monitoring/monitoring/drift.json",
        "evaluation/evaluation/evaluation.json",
    ]
    differ = [
        relative
        for relative in outputs
        if (runs["host"] / relative).read_bytes() != (runs["local"] / relative).read_bytes()
    ]
    assert differ == []


def test_unlabelled_new_data_is_scored_and_monitored_alike_on_both_runners(
    sm_image: str, tmp_path: Path
) -> None:
    """Scoring data without labels is the normal case: no runner may need them."""
    from mlmax_census.data.generator import write_csv

    labelled = pd.read_csv(write_csv(tmp_path / "new.csv", 800, SEED + 1, drift=1.0))
    unlabelled = tmp_path / "nolabel.csv"
    labelled.drop(columns=["income"]).to_csv(unlabelled, index=False)
    data = DataSpec(rows=ROWS, seed=SEED, new_data_file=unlabelled)
    options = TrainingOptions(seed=SEED)
    records = {}
    for name, runner in (("host", HostRunner()), ("local", LocalModeRunner(image=sm_image))):
        with runner:
            records[name] = run_census(
                runner, tmp_path / name, data, options, write_report=write_report
            )
        assert records[name].status == "succeeded", records[name].error
        labels_dir = tmp_path / name / "preprocessing-infer" / "labels"
        assert labels_dir.is_dir() and list(labels_dir.iterdir()) == []
        report = (tmp_path / name / "report" / "report.md").read_text()
        assert re.search(r"accuracy on new data\s*\|\s*unknown: the new data has no labels", report)
    host = pd.read_csv(tmp_path / "host/inference/predictions/predictions.csv")
    local = pd.read_csv(tmp_path / "local/inference/predictions/predictions.csv")
    assert len(host) == len(labelled)
    pd.testing.assert_frame_equal(local, host, check_exact=False, atol=1e-12)
    assert _json(tmp_path / "local", "monitoring/monitoring/drift.json") == _json(
        tmp_path / "host", "monitoring/monitoring/drift.json"
    )

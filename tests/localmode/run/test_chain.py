"""Every job in its container, chained as in production; outputs read back and checked."""

from __future__ import annotations

import json
import re
import tarfile

import pandas as pd
import pytest

from tests.localmode.conftest import NEW_ROWS, ROWS

pytestmark = pytest.mark.smlocal


def test_preprocessing_splits_generated_data(preprocessed):
    dirs = preprocessed.dirs
    train_x = pd.read_csv(dirs["train"] / "train_features.csv")
    train_y = pd.read_csv(dirs["train"] / "train_labels.csv")
    test_x = pd.read_csv(dirs["test"] / "test_features.csv")
    test_y = pd.read_csv(dirs["test"] / "test_labels.csv")
    total = len(train_x) + len(test_x)
    # Cleaning drops incomplete rows; the job reports how many it kept.
    kept = re.search(r"(\d+) after cleaning", preprocessed.result.logs)
    assert kept and total == int(kept.group(1))
    assert ROWS / 2 < total <= ROWS
    assert len(test_x) == pytest.approx(0.2 * total, abs=2)
    assert (len(train_y), len(test_y)) == (len(train_x), len(test_x))
    assert list(train_x.columns) == list(test_x.columns)
    assert set(train_y["income"]) <= {0, 1}
    assert not train_x.isna().any().any()
    assert tarfile.is_tarfile(dirs["proc_model"] / "proc_model.tar.gz")
    assert preprocessed.result.exit_code == 0


def test_training_packs_model_and_reports_metrics(trained):
    archive = trained.dirs["model"] / "model.tar.gz"
    with tarfile.open(archive) as tar:
        assert "model.joblib" in [m.name.lstrip("./") for m in tar.getmembers()]
    metrics = dict(re.findall(r"metric (\w+)=([0-9.]+)", trained.result.logs))
    assert float(metrics["test_accuracy"]) > 0.7
    assert 0.5 < float(metrics["test_roc_auc"]) <= 1.0


def test_evaluation_metrics_are_in_bounds(evaluated, preprocessed):
    report = json.loads((evaluated.dirs["evaluation"] / "evaluation.json").read_text())
    n_test = len(pd.read_csv(preprocessed.dirs["test"] / "test_labels.csv"))
    assert report["n_samples"] == n_test
    metrics = report["metrics"]
    for name in ("accuracy", "roc_auc", "precision", "recall", "f1"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["accuracy"] > 0.7
    assert metrics["roc_auc"] > 0.6
    assert sum(sum(row) for row in report["confusion_matrix"]) == n_test
    assert 0 < len(report["roc_curve"]["fpr"]) <= 200


def test_batch_inference_predicts_a_probability_per_row(predicted, infer_features):
    predictions = pd.read_csv(predicted.dirs["predictions"] / "predictions.csv")
    assert len(predictions) == NEW_ROWS
    assert list(predictions.columns) == ["prediction", "probability"]
    assert predictions["probability"].between(0.0, 1.0).all()
    assert set(predictions["prediction"]) <= {0, 1}
    assert (predictions["prediction"] == (predictions["probability"] >= 0.5)).all()
    labels = pd.read_csv(infer_features.dirs["labels"] / "infer_labels.csv")
    assert len(labels) == NEW_ROWS


def test_monitoring_flags_drifted_data(monitored_drift):
    drift = json.loads((monitored_drift.dirs["monitoring"] / "drift.json").read_text())
    assert drift["drift_detected"] is True
    assert any(feature["drift"] for feature in drift["features"].values())
    baseline = json.loads((monitored_drift.dirs["monitoring"] / "baseline.json").read_text())
    assert baseline, "baseline.json lists the numeric features"


def test_monitoring_passes_data_from_the_same_distribution(monitored_same):
    drift = json.loads((monitored_same.dirs["monitoring"] / "drift.json").read_text())
    assert drift["drift_detected"] is False

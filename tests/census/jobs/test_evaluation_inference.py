"""evaluation.py and inference.py: reports, predictions, model archives, bad input."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlmax_census.jobs import evaluation, inference
from mlmax_census.jobs.jobs_common import JobInputError

from .helpers import assert_nothing_written, run_script


def _evaluate(model_dir: Path, test_dir: Path, out: Path) -> dict:
    evaluation.main(
        evaluation.parse_args(
            ["--model-dir", str(model_dir), "--test-dir", str(test_dir), "--output-dir", str(out)]
        )
    )
    return json.loads((out / "evaluation.json").read_text())


def _packed(model_dir: Path, target: Path) -> Path:
    """SageMaker's packing of SM_MODEL_DIR: model.tar.gz holding model.joblib."""
    target.mkdir()
    with tarfile.open(target / "model.tar.gz", "w:gz") as archive:
        archive.add(model_dir / "model.joblib", arcname="model.joblib")
    return target


def test_evaluation_report_has_the_contract_shape_and_sane_values(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path
) -> None:
    report = _evaluate(model_dir, prepared.test, tmp_path)
    assert set(report) == {"metrics", "per_class", "confusion_matrix", "roc_curve", "n_samples"}
    assert set(report["metrics"]) == {"accuracy", "roc_auc", "precision", "recall", "f1"}
    assert all(0 <= v <= 1 for v in report["metrics"].values())
    labels = pd.read_csv(prepared.test / "test_labels.csv")["income"]
    assert report["n_samples"] == len(labels)
    (tn, fp), (fn, tp) = report["confusion_matrix"]
    assert tn + fp + fn + tp == len(labels)
    assert tp + fn == labels.sum() == report["per_class"]["1"]["support"]
    assert report["metrics"]["accuracy"] == pytest.approx((tp + tn) / len(labels))
    assert report["metrics"]["recall"] == pytest.approx(tp / (tp + fn))
    assert report["per_class"]["1"]["f1"] == report["metrics"]["f1"]
    # ROC AUC from probabilities, not from hard labels.
    model = joblib.load(model_dir / "model.joblib")
    features = pd.read_csv(prepared.test / "test_features.csv")
    expected = roc_auc_score(labels, model.predict_proba(features)[:, 1])
    assert report["metrics"]["roc_auc"] == pytest.approx(expected)
    assert report["metrics"]["roc_auc"] != pytest.approx(
        roc_auc_score(labels, model.predict(features))
    )
    curve = report["roc_curve"]
    assert 2 <= len(curve["fpr"]) == len(curve["tpr"]) <= 200
    assert (curve["fpr"][0], curve["fpr"][-1], curve["tpr"][-1]) == (0.0, 1.0, 1.0)


def test_evaluation_reads_the_packed_model_archive(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path
) -> None:
    packed = _packed(model_dir, tmp_path / "packed")
    from_archive = _evaluate(packed, prepared.test, tmp_path / "a")
    from_file = _evaluate(model_dir, prepared.test, tmp_path / "b")
    assert from_archive == from_file


def test_thin_curve_keeps_at_most_the_limit_and_both_ends() -> None:
    fpr, tpr = np.linspace(0, 1, 1000), np.linspace(0, 1, 1000) ** 0.5
    curve = evaluation.thin_curve(fpr, tpr, limit=200)
    assert len(curve["fpr"]) == 200
    assert (curve["fpr"][0], curve["fpr"][-1]) == (0.0, 1.0)
    assert evaluation.thin_curve(fpr[:5], tpr[:5])["fpr"] == list(fpr[:5])


def test_one_class_test_labels_are_refused() -> None:
    with pytest.raises(JobInputError, match="only the label 0"):
        evaluation.evaluate(pd.Series([0, 0, 0]), pd.Series([0.1, 0.2, 0.3]))


def _damaged_model_dir(tmp_path: Path, model_dir: Path, damage: str) -> Path:
    target = tmp_path / "model"
    target.mkdir()
    if damage == "corrupt archive":
        (target / "model.tar.gz").write_bytes(b"\x1f\x8b\x08 not really gzip")
    elif damage == "archive without model":
        with tarfile.open(target / "model.tar.gz", "w:gz") as archive:
            archive.add(model_dir / "model.joblib", arcname="other.joblib")
    elif damage == "corrupt model file":
        (target / "model.joblib").write_bytes(b"junk")
    return target


MODEL_DAMAGE = {
    "missing model": "no model.joblib or model.tar.gz in",
    "corrupt archive": "is corrupt",
    "archive without model": "holds no model.joblib",
    "corrupt model file": "is corrupt or not a joblib file",
}


@pytest.mark.parametrize("damage", MODEL_DAMAGE)
def test_missing_or_corrupt_model_writes_nothing(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path, damage: str
) -> None:
    bad_dir = _damaged_model_dir(tmp_path, model_dir, damage)
    for job, data_dir in ((evaluation, prepared.test), (inference, prepared.test)):
        args = job.parse_args(["--model-dir", str(bad_dir), "--output-dir", str(tmp_path / "out")])
        args.test_dir = args.input_dir = str(data_dir)
        with pytest.raises(JobInputError, match=MODEL_DAMAGE[damage]):
            job.main(args)
    assert not (tmp_path / "out").exists()


def test_features_lacking_a_model_column_are_refused(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path
) -> None:
    test_dir = tmp_path / "test"
    test_dir.mkdir()
    features = pd.read_csv(prepared.test / "test_features.csv").drop(columns="age_3.0")
    features.to_csv(test_dir / "test_features.csv", index=False)
    (test_dir / "test_labels.csv").write_text((prepared.test / "test_labels.csv").read_text())
    with pytest.raises(JobInputError, match=r"lack 1 column.*'age_3\.0'"):
        _evaluate(model_dir, test_dir, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


def _infer(model_dir: Path, source: Path, out: Path, *extra: str) -> pd.DataFrame:
    inference.main(
        inference.parse_args(
            ["--model-dir", str(model_dir), "--input-dir", str(source), "--output-dir", str(out),
             *extra]
        )
    )  # fmt: skip
    return pd.read_csv(out / "predictions.csv")


def test_inference_predicts_every_row_in_input_order(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path
) -> None:
    features = pd.read_csv(prepared.test / "test_features.csv")
    shuffled = features.sample(frac=1.0, random_state=0).reset_index(drop=True)
    shuffled = shuffled[list(reversed(shuffled.columns))]  # column order does not matter
    source = tmp_path / "in"
    source.mkdir()
    shuffled.to_csv(source / "features.csv", index=False)
    predictions = _infer(model_dir, source, tmp_path / "out")
    model = joblib.load(model_dir / "model.joblib")
    expected = model.predict_proba(shuffled[model.feature_names_in_])[:, 1]
    assert list(predictions.columns) == ["prediction", "probability"]
    assert len(predictions) == len(shuffled)
    assert np.allclose(predictions["probability"], expected)
    assert (predictions["prediction"] == (expected >= 0.5)).all()


def test_inference_threshold_moves_the_decision(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path
) -> None:
    source = prepared.test / "test_features.csv"
    everything = _infer(model_dir, source, tmp_path / "a", "--threshold", "0")
    assert everything["prediction"].eq(1).all()
    default = _infer(model_dir, source, tmp_path / "b")
    strict = _infer(model_dir, source, tmp_path / "c", "--threshold", "0.9")
    assert strict["prediction"].sum() < default["prediction"].sum() < len(default)
    with pytest.raises(SystemExit):
        inference.parse_args(["--threshold", "1.5"])


def test_inference_names_a_stray_csv_in_its_input_directory(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path
) -> None:
    # The test channel holds the labels CSV next to the features: not an inference input.
    with pytest.raises(JobInputError, match=r"test_labels\.csv lack \d+ column"):
        _infer(model_dir, prepared.test, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), ("a,b\n", "no data rows"), ("a,b\n1,x\n", "holds the text 'x'")],
)
def test_inference_refuses_bad_features(
    model_dir: Path, tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "features.csv"
    source.write_text(content)
    with pytest.raises(JobInputError, match=message):
        _infer(model_dir, source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_evaluation_and_inference_scripts(
    prepared: SimpleNamespace, model_dir: Path, tmp_path: Path
) -> None:
    packed = _packed(model_dir, tmp_path / "packed")
    done = run_script(
        "evaluation", "--model-dir", str(packed), "--test-dir", str(prepared.test),
        "--output-dir", "ev", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "roc_auc=" in done.stdout
    assert json.loads((tmp_path / "ev" / "evaluation.json").read_text())["n_samples"] > 0
    done = run_script(
        "inference", "--model-dir", str(packed), "--input-dir",
        str(prepared.test / "test_features.csv"), "--output-dir", "inf", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    predictions = pd.read_csv(tmp_path / "inf" / "predictions.csv")
    assert len(predictions) == len(pd.read_csv(prepared.test / "test_labels.csv"))

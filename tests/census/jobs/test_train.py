"""train.py: model types, metrics, SageMaker environment defaults, bad input."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import joblib
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from mlmax_census.jobs import train
from mlmax_census.jobs.jobs_common import JobInputError

from .helpers import assert_nothing_written, assert_one_error_line, run_script

MODEL_CLASSES = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "gradient_boosting": GradientBoostingClassifier,
}
METRIC_LINE = re.compile(r"^metric (\w+)=([0-9.]+)$", re.MULTILINE)


def _args(prepared: SimpleNamespace, model_dir: Path, *extra: str):
    return train.parse_args(
        ["--train-dir", str(prepared.train), "--test-dir", str(prepared.test),
         "--model-dir", str(model_dir), *extra]
    )  # fmt: skip


def test_defaults_come_from_the_sagemaker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SM_CHANNEL_TRAIN", "SM_CHANNEL_TEST", "SM_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    args = train.parse_args([])
    assert (args.train_dir, args.test_dir, args.model_dir) == (
        "/opt/ml/input/data/train", "/opt/ml/input/data/test", "/opt/ml/model"
    )  # fmt: skip
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/a")
    monkeypatch.setenv("SM_CHANNEL_TEST", "/b")
    monkeypatch.setenv("SM_MODEL_DIR", "/c")
    args = train.parse_args([])
    assert (args.train_dir, args.test_dir, args.model_dir) == ("/a", "/b", "/c")
    assert (args.model_type, args.c, args.n_estimators, args.max_depth, args.seed) == (
        "logistic_regression", 1.0, 100, None, 42
    )  # fmt: skip


def test_hyperparameters_are_parsed_and_checked() -> None:
    args = train.parse_args(["--max-depth", "None", "--c", "0.5", "--n-estimators", "7"])
    assert (args.max_depth, args.c, args.n_estimators) == (None, 0.5, 7)
    assert train.parse_args(["--max-depth", "4"]).max_depth == 4
    for bad in (["--c", "0"], ["--n-estimators", "-1"], ["--model-type", "svm"]):
        with pytest.raises(SystemExit):
            train.parse_args(bad)


def test_build_model_makes_each_type_with_its_hyperparameters() -> None:
    lr = train.build_model("logistic_regression", c=0.1, seed=1)
    assert isinstance(lr, LogisticRegression) and lr.C == 0.1
    rf = train.build_model("random_forest", n_estimators=5, max_depth=2)
    assert isinstance(rf, RandomForestClassifier) and (rf.n_estimators, rf.max_depth) == (5, 2)
    gb = train.build_model("gradient_boosting", n_estimators=3)
    assert isinstance(gb, GradientBoostingClassifier) and gb.max_depth == 3
    with pytest.raises(JobInputError, match="unknown model type 'svm'"):
        train.build_model("svm")


@pytest.mark.parametrize(
    ("model_type", "extra"),
    [
        ("logistic_regression", ["--c", "0.5"]),
        ("random_forest", ["--n-estimators", "30", "--max-depth", "6"]),
        ("gradient_boosting", ["--n-estimators", "30"]),
    ],
)
def test_main_trains_each_model_type_and_prints_metrics(
    prepared: SimpleNamespace, tmp_path: Path, capsys, model_type: str, extra: list[str]
) -> None:
    train.main(_args(prepared, tmp_path, "--model-type", model_type, *extra))
    metrics = {k: float(v) for k, v in METRIC_LINE.findall(capsys.readouterr().out)}
    assert set(metrics) == {"train_accuracy", "train_roc_auc", "test_accuracy", "test_roc_auc"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert metrics["test_roc_auc"] > 0.75
    model = joblib.load(tmp_path / "model.joblib")
    assert isinstance(model, MODEL_CLASSES[model_type])
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]


def test_same_seed_gives_the_same_model(prepared: SimpleNamespace, tmp_path: Path) -> None:
    features = pd.read_csv(prepared.test / "test_features.csv")
    probabilities = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        extra = ("--model-type", "random_forest", "--n-estimators", "10", "--seed", seed)
        train.main(_args(prepared, tmp_path / name, *extra))
        model = joblib.load(tmp_path / name / "model.joblib")
        probabilities.append(model.predict_proba(features)[:, 1])
    assert (probabilities[0] == probabilities[1]).all()
    assert (probabilities[0] != probabilities[2]).any()


def test_without_test_data_only_train_metrics_are_printed(
    prepared: SimpleNamespace, tmp_path: Path, capsys
) -> None:
    args = _args(prepared, tmp_path / "model")
    args.test_dir = str(tmp_path / "no-test-channel")
    train.main(args)
    output = capsys.readouterr().out
    assert {name for name, _ in METRIC_LINE.findall(output)} == {"train_accuracy", "train_roc_auc"}
    assert "no test data" in output


def _copy_split(prepared: SimpleNamespace, target: Path, labels: str | None = None) -> Path:
    target.mkdir()
    features = (prepared.train / "train_features.csv").read_text()
    (target / "train_features.csv").write_text(features)
    if labels is None:
        labels = (prepared.train / "train_labels.csv").read_text()
    (target / "train_labels.csv").write_text(labels)
    return target


def test_bad_training_data_is_refused_without_writing(
    prepared: SimpleNamespace, tmp_path: Path
) -> None:
    cases = {
        "income\n0\n1\n": "has 2",  # fewer labels than feature rows
        "income\n" + "0\n" * len(pd.read_csv(prepared.train / "train_labels.csv")): "only the",
    }
    for number, (labels, message) in enumerate(cases.items()):
        train_dir = _copy_split(prepared, tmp_path / f"train{number}", labels)
        args = _args(prepared, tmp_path / "model")
        args.train_dir = str(train_dir)
        with pytest.raises(JobInputError, match=message):
            train.main(args)
    args = _args(prepared, tmp_path / "model")
    args.train_dir = str(tmp_path / "empty")
    with pytest.raises(JobInputError, match=r"train_features\.csv is missing"):
        train.main(args)
    assert_nothing_written(tmp_path / "model")


def test_test_features_with_other_columns_are_refused(
    prepared: SimpleNamespace, tmp_path: Path
) -> None:
    test_dir = tmp_path / "test"
    test_dir.mkdir()
    features = pd.read_csv(prepared.test / "test_features.csv")
    features.drop(columns="capital gains").to_csv(test_dir / "test_features.csv", index=False)
    (test_dir / "test_labels.csv").write_text((prepared.test / "test_labels.csv").read_text())
    args = _args(prepared, tmp_path / "model")
    args.test_dir = str(test_dir)
    with pytest.raises(JobInputError, match="other columns"):
        train.main(args)
    assert_nothing_written(tmp_path / "model")


def test_script_trains_and_fails_cleanly(prepared: SimpleNamespace, tmp_path: Path) -> None:
    done = run_script(
        "train", "--train-dir", str(prepared.train), "--test-dir", str(prepared.test),
        "--model-dir", "model", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(METRIC_LINE.findall(done.stdout)) == 4
    assert (tmp_path / "model" / "model.joblib").is_file()
    done = run_script("train", "--train-dir", "nowhere", "--model-dir", "m2", cwd=tmp_path)
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "train_features.csv is missing")
    assert_nothing_written(tmp_path / "m2")

"""The jobs chained as a pipeline would: on 50,000 generated rows and on the KDD format."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mlmax_census.data import write_csv
from mlmax_census.jobs import evaluation, inference, preprocessing, train

from .helpers import write_kdd_file


def _chain(source: Path, root: Path, *train_extra: str) -> dict:
    """preprocessing (train) -> train -> evaluation -> preprocessing (infer) -> inference."""
    preprocessing.main(
        preprocessing.parse_args(
            ["--input-dir", str(source), "--train-dir", str(root / "train"),
             "--test-dir", str(root / "test"), "--model-dir", str(root / "proc_model")]
        )
    )  # fmt: skip
    train.main(
        train.parse_args(
            ["--train-dir", str(root / "train"), "--test-dir", str(root / "test"),
             "--model-dir", str(root / "model"), *train_extra]
        )
    )  # fmt: skip
    evaluation.main(
        evaluation.parse_args(
            ["--model-dir", str(root / "model"), "--test-dir", str(root / "test"),
             "--output-dir", str(root / "evaluation")]
        )
    )  # fmt: skip
    preprocessing.main(
        preprocessing.parse_args(
            ["--mode", "infer", "--input-dir", str(source),
             "--proc-model-dir", str(root / "proc_model"), "--output-dir", str(root / "infer"),
             "--labels-dir", str(root / "infer_labels")]
        )
    )  # fmt: skip
    inference.main(
        inference.parse_args(
            ["--model-dir", str(root / "model"),
             "--input-dir", str(root / "infer"),
             "--output-dir", str(root / "predictions")]
        )
    )  # fmt: skip
    return json.loads((root / "evaluation" / "evaluation.json").read_text())


def test_chain_on_50000_generated_rows_learns_and_scores_every_row(tmp_path: Path) -> None:
    # How its time grows with the rows is benchmarks/scale.py's to measure, not a test's.
    source = write_csv(tmp_path / "census.csv", rows=50_000, seed=0)
    report = _chain(source, tmp_path)
    assert report["metrics"]["roc_auc"] > 0.75
    predictions = pd.read_csv(tmp_path / "predictions" / "predictions.csv")
    assert len(predictions) == 50_000
    assert 0.0 < predictions["prediction"].mean() < 0.2


def test_chain_on_a_headerless_kdd_extract(tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    write_kdd_file(source / "census-income.data", rows=6000, seed=5, missing_every=50)
    report = _chain(source, tmp_path, "--model-type", "random_forest", "--n-estimators", "30")
    assert report["metrics"]["roc_auc"] > 0.75
    assert report["n_samples"] == len(pd.read_csv(tmp_path / "test" / "test_labels.csv"))
    labels = pd.read_csv(tmp_path / "infer_labels" / "infer_labels.csv")
    assert len(labels) == 6000  # infer mode keeps rows with "?" (imputed)
    assert len(pd.read_csv(tmp_path / "predictions" / "predictions.csv")) == 6000

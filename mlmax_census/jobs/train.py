"""Training job: fit a census-income classifier on the preprocessed features.

Reads `train_features.csv`/`train_labels.csv` from the train channel (and the test pair
from the test channel when it is there), fits the chosen model and writes `model.joblib`
to the model directory. Prints one `metric <name>=<value>` line per metric, the format a
SageMaker metric definition can pick up.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

try:
    from . import jobs_common
    from .csv_input import read_labels, read_numeric_table
    from .jobs_common import JobInputError, joblib_writer, named_file, run_main, write_outputs
except ImportError:  # run as a script from the flat code folder
    import jobs_common
    from csv_input import read_labels, read_numeric_table
    from jobs_common import JobInputError, joblib_writer, named_file, run_main, write_outputs

MODEL_FILE = jobs_common.MODEL_FILE
MODEL_TYPES = ("logistic_regression", "random_forest", "gradient_boosting")
HINT = "make it with preprocessing.py --mode train"


def build_model(
    model_type: str,
    c: float = 1.0,
    n_estimators: int = 100,
    max_depth: int | None = None,
    seed: int = 42,
) -> ClassifierMixin:
    """An unfitted classifier of the given type."""
    if model_type == "logistic_regression":
        return LogisticRegression(C=c, max_iter=1000, random_state=seed)
    if model_type == "random_forest":
        return RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1
        )
    if model_type == "gradient_boosting":
        return GradientBoostingClassifier(
            n_estimators=n_estimators, max_depth=max_depth or 3, random_state=seed
        )
    raise JobInputError(f"unknown model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}")


def read_split(directory: str | Path, split: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and labels of one split ("train" or "test"), checked to belong together."""
    features_path = named_file(directory, f"{split}_features.csv", HINT)
    labels_path = named_file(directory, f"{split}_labels.csv", HINT)
    features = read_numeric_table(features_path)
    labels = read_labels(labels_path)
    if len(features) != len(labels):
        raise JobInputError(
            f"{features_path} has {len(features)} rows but {labels_path} has {len(labels)}; "
            "use features and labels from the same preprocessing run"
        )
    return features, labels


def positive_probability(model: ClassifierMixin, features: pd.DataFrame) -> pd.Series:
    """The model's probability of the positive class (label 1) for each row."""
    column = list(model.classes_).index(1) if 1 in model.classes_ else None
    if column is None:
        return pd.Series(0.0, index=features.index)
    return pd.Series(model.predict_proba(features)[:, column], index=features.index)


def score(model: ClassifierMixin, features: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    """Accuracy and ROC AUC (from probabilities; NaN when only one class is present)."""
    probability = positive_probability(model, features)
    accuracy = accuracy_score(labels, (probability >= 0.5).astype(int))
    roc_auc = roc_auc_score(labels, probability) if labels.nunique() == 2 else float("nan")
    return {"accuracy": float(accuracy), "roc_auc": float(roc_auc)}


def train(
    features: pd.DataFrame,
    labels: pd.Series,
    model_type: str = "logistic_regression",
    c: float = 1.0,
    n_estimators: int = 100,
    max_depth: int | None = None,
    seed: int = 42,
) -> ClassifierMixin:
    """Fit a classifier; both labels must occur in the training data."""
    if labels.nunique() < 2:
        raise JobInputError(
            f"the training labels hold only the label {labels.iloc[0]}; a classifier needs "
            "both labels, so provide more data"
        )
    model = build_model(model_type, c, n_estimators, max_depth, seed)
    return model.fit(features, labels)


def _test_split_present(directory: str) -> bool:
    path = Path(directory)
    return any((path / f"test_{part}.csv").exists() for part in ("features", "labels"))


def main(args: argparse.Namespace) -> None:
    train_features, train_labels = read_split(args.train_dir, "train")
    test = None
    if _test_split_present(args.test_dir):
        test = read_split(args.test_dir, "test")
        if list(test[0].columns) != list(train_features.columns):
            raise JobInputError(
                f"the test features in {args.test_dir} have other columns than the train "
                f"features in {args.train_dir}; use both from the same preprocessing run"
            )
    else:
        print(f"train: no test data in {args.test_dir}, reporting train metrics only")
    print(f"train: fitting {args.model_type} on {len(train_features)} rows")
    model = train(
        train_features,
        train_labels,
        args.model_type,
        args.c,
        args.n_estimators,
        args.max_depth,
        args.seed,
    )
    metrics = {f"train_{k}": v for k, v in score(model, train_features, train_labels).items()}
    if test is not None:
        metrics.update({f"test_{k}": v for k, v in score(model, *test).items()})
    write_outputs({Path(args.model_dir) / MODEL_FILE: joblib_writer(model)})
    for name, value in metrics.items():
        print(f"metric {name}={value:.6f}")


Number = TypeVar("Number", int, float)


def _positive(kind: Callable[[str], Number]) -> Callable[[str], Number]:
    def convert(text: str) -> Number:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return convert


def _depth(text: str) -> int | None:
    # SageMaker hyperparameters arrive as strings; "none" means unlimited depth.
    if text.strip().lower() in ("", "none", "null"):
        return None
    return _positive(int)(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train-dir", default=env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    )
    parser.add_argument("--test-dir", default=env.get("SM_CHANNEL_TEST", "/opt/ml/input/data/test"))
    parser.add_argument("--model-dir", default=env.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--model-type", choices=MODEL_TYPES, default="logistic_regression")
    parser.add_argument("--c", type=_positive(float), default=1.0)
    parser.add_argument("--n-estimators", type=_positive(int), default=100)
    parser.add_argument("--max-depth", type=_depth, default=None)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(run_main(main, parse_args))

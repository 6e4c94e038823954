"""Evaluation job: score the trained model on the held-out test split.

Writes `evaluation.json` with accuracy, ROC AUC (from predicted probabilities), precision,
recall and F1 of the positive class, the same per class, the confusion matrix and up to 200
points of the ROC curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

try:
    from .jobs_common import JobInputError, load_model, run_main, write_outputs
    from .train import positive_probability, read_split
except ImportError:  # run as a script from the flat code folder
    from jobs_common import JobInputError, load_model, run_main, write_outputs
    from train import positive_probability, read_split

MAX_ROC_POINTS = 200


def model_features(model: Any, features: pd.DataFrame, source: str) -> pd.DataFrame:
    """The columns the model was trained on, in its order; a clear error when some lack."""
    expected = list(getattr(model, "feature_names_in_", features.columns))
    missing = [name for name in expected if name not in features.columns]
    if missing:
        raise JobInputError(
            f"the features in {source} lack {len(missing)} column(s) the model was trained "
            f"on (first: {missing[0]!r}); transform the data with the same preprocessor"
        )
    return features[expected]


def thin_curve(fpr: np.ndarray, tpr: np.ndarray, limit: int = MAX_ROC_POINTS) -> dict:
    """At most `limit` points of a ROC curve, always keeping both ends."""
    if len(fpr) > limit:
        keep = np.unique(np.linspace(0, len(fpr) - 1, limit).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [float(x) for x in fpr], "tpr": [float(x) for x in tpr]}


def evaluate(labels: pd.Series, probability: pd.Series, threshold: float = 0.5) -> dict:
    """The evaluation report for true labels and positive-class probabilities."""
    if labels.nunique() < 2:
        raise JobInputError(
            f"the test labels hold only the label {labels.iloc[0]}, so ROC AUC is undefined; "
            "use a larger test split"
        )
    predicted = (probability >= threshold).astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=[0, 1], zero_division=0
    )
    fpr, tpr, _ = roc_curve(labels, probability)
    per_class = {
        str(label): {
            "precision": float(precision[label]),
            "recall": float(recall[label]),
            "f1": float(f1[label]),
            "support": int(support[label]),
        }
        for label in (0, 1)
    }
    return {
        "metrics": {
            "accuracy": float(accuracy_score(labels, predicted)),
            "roc_auc": float(roc_auc_score(labels, probability)),
            "precision": per_class["1"]["precision"],
            "recall": per_class["1"]["recall"],
            "f1": per_class["1"]["f1"],
        },
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
        "roc_curve": thin_curve(fpr, tpr),
        "n_samples": len(labels),
    }


def main(args: argparse.Namespace) -> None:
    model = load_model(args.model_dir)
    features, labels = read_split(args.test_dir, "test")
    features = model_features(model, features, args.test_dir)
    report = evaluate(labels, positive_probability(model, features))
    target = Path(args.output_dir) / "evaluation.json"
    write_outputs({target: lambda path: path.write_text(json.dumps(report, indent=2))})
    metrics = report["metrics"]
    print(" ".join(f"{name}={value:.4f}" for name, value in metrics.items()))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="/opt/ml/processing/model")
    parser.add_argument("--test-dir", default="/opt/ml/processing/test")
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(run_main(main, parse_args))

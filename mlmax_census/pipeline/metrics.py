"""Key metrics of each step, read back from its outputs (and the training log).

Runner-agnostic on purpose: whatever ran the job, its outputs land in the same host
directories, so the summary table means the same for every runner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

_METRIC_LINE = re.compile(r"^metric (?P<name>[\w.\-]+)=(?P<value>[-+0-9.eE]+|nan|inf)\s*$")


def parse_metric_lines(log: str) -> dict[str, float]:
    """`metric name=value` lines printed by the training job (the contract's format)."""
    metrics: dict[str, float] = {}
    for line in log.splitlines():
        match = _METRIC_LINE.match(line.strip())
        if match:
            metrics[match["name"]] = float(match["value"])
    return metrics


def count_csv_rows(path: Path) -> int:
    """Data rows of a CSV with a header line (no parsing: the step already validated it)."""
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(lines - 1, 0)


def _first(directory: Path, pattern: str) -> Path | None:
    found = sorted(directory.glob(pattern))
    return found[0] if found else None


def _preprocessing(outputs: dict[str, Path], log: str) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for channel in ("train", "test"):
        if channel in outputs:
            csv = _first(outputs[channel], "*features*.csv")
            if csv:
                metrics[f"{channel}_rows"] = count_csv_rows(csv)
    return metrics


def _preprocessing_infer(outputs: dict[str, Path], log: str) -> dict[str, float]:
    csv = _first(outputs["features"], "*features*.csv")
    return {"rows": count_csv_rows(csv)} if csv else {}


def _train(outputs: dict[str, Path], log: str) -> dict[str, float]:
    return parse_metric_lines(log)


def _evaluation(outputs: dict[str, Path], log: str) -> dict[str, float]:
    report = json.loads((outputs["evaluation"] / "evaluation.json").read_text())
    return {k: float(v) for k, v in report["metrics"].items()}


def _inference(outputs: dict[str, Path], log: str) -> dict[str, float]:
    import pandas as pd

    predictions = pd.read_csv(outputs["predictions"] / "predictions.csv")
    return {
        "rows": len(predictions),
        "positive_rate": float(predictions["prediction"].mean()) if len(predictions) else 0.0,
    }


def _monitoring(outputs: dict[str, Path], log: str) -> dict[str, float]:
    drift = json.loads((outputs["monitoring"] / "drift.json").read_text())
    psis = [float(f["psi"]) for f in drift["features"].values()]
    return {
        "features": len(psis),
        "drifted": sum(bool(f["drift"]) for f in drift["features"].values()),
        "max_psi": max(psis) if psis else 0.0,
    }


_BY_JOB: dict[str, Callable[[dict[str, Path], str], dict[str, float]]] = {
    "preprocessing": _preprocessing,
    "preprocessing-infer": _preprocessing_infer,
    "train": _train,
    "evaluation": _evaluation,
    "inference": _inference,
    "monitoring": _monitoring,
}


def step_metrics(job: str, outputs: dict[str, Path], log: str) -> dict[str, float]:
    """The key metrics of one finished job; empty for a job we know nothing about."""
    reader = _BY_JOB.get(job)
    return reader(outputs, log) if reader else {}


# What the summary table shows per job, in this order, with short labels.
HEADLINE: dict[str, tuple[tuple[str, str], ...]] = {
    "preprocessing": (("train_rows", "train rows"), ("test_rows", "test rows")),
    "train": (("train_accuracy", "train acc"), ("test_roc_auc", "test AUC")),
    "evaluation": (("accuracy", "accuracy"), ("roc_auc", "ROC AUC"), ("f1", "F1")),
    "preprocessing-infer": (("rows", "rows"),),
    "inference": (("rows", "rows"), ("positive_rate", "positive rate")),
    "monitoring": (("drifted", "drifted"), ("max_psi", "max PSI")),
}


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def headline(job: str, metrics: dict[str, float]) -> str:
    """One short line of the metrics a person looks at first, e.g. `ROC AUC 0.912`."""
    parts = [
        f"{label} {_format(metrics[key])}" for key, label in HEADLINE.get(job, ()) if key in metrics
    ]
    if job == "monitoring" and "features" in metrics and "drifted" in metrics:
        parts[0] = f"drifted {int(metrics['drifted'])}/{int(metrics['features'])}"
    return ", ".join(parts)

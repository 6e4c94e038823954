"""Monitoring job: compare new raw data with a baseline and flag drifted numeric features.

The baseline is raw census data (its statistics are computed here) or a `baseline.json`
written by an earlier run. For every numeric feature the population stability index
PSI = sum((new - base) * ln(new / base)) is computed over the baseline's quantile bins;
a feature whose PSI exceeds `--psi-threshold` is flagged. Writes `baseline.json` and
`drift.json`.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

try:
    from . import schema
    from .csv_input import read_census
    from .jobs_common import JobInputError, add_chunk_rows_argument, run_main, write_outputs
except ImportError:  # run as a script from the flat code folder
    import schema
    from csv_input import read_census
    from jobs_common import JobInputError, add_chunk_rows_argument, run_main, write_outputs

BASELINE_FILE = "baseline.json"
# Stands in for an empty bin's share so that ln(new / base) stays finite.
EPSILON = 1e-4
STAT_KEYS = ("count", "mean", "std", "min", "max", "missing", "bin_edges", "bin_fractions")


def bin_fractions(values: pd.Series, edges: list[float]) -> list[float]:
    """Share of the non-missing values in each bin.

    `edges` are the inner bin edges: bin 0 holds values <= edges[0], bin i values in
    (edges[i-1], edges[i]], the last bin values > edges[-1].
    """
    present = values.dropna().to_numpy(dtype=float)
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    return [float(c) for c in counts / max(len(present), 1)]


def feature_baseline(values: pd.Series, bins: int) -> dict:
    """Summary statistics and quantile bins of one numeric feature."""
    present = values.dropna()
    inner = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
    # Zero-heavy columns (capital gains) repeat quantiles: keep each edge once.
    edges = [float(edge) for edge in np.unique(inner)]
    return {
        "count": len(present),
        "mean": float(present.mean()),
        "std": float(present.std(ddof=0)),
        "min": float(present.min()),
        "max": float(present.max()),
        "missing": int(values.isna().sum()),
        "bin_edges": edges,
        "bin_fractions": bin_fractions(present, edges),
    }


def compute_baseline(data: pd.DataFrame, bins: int = 10) -> dict:
    """The baseline of every numeric feature of raw census data."""
    return {
        "bins": bins,
        "features": {name: feature_baseline(data[name], bins) for name in schema.NUMERIC},
    }


def psi(expected: list[float], actual: list[float], epsilon: float = EPSILON) -> float:
    """Population stability index between two lists of bin fractions."""
    base = np.clip(np.asarray(expected, dtype=float), epsilon, None)
    new = np.clip(np.asarray(actual, dtype=float), epsilon, None)
    return float(np.sum((new - base) * np.log(new / base)))


def detect_drift(baseline: dict, data: pd.DataFrame, threshold: float) -> dict:
    """PSI and drift flag per numeric feature of `data` against `baseline`."""
    features = {}
    for name, stats in baseline["features"].items():
        value = psi(stats["bin_fractions"], bin_fractions(data[name], stats["bin_edges"]))
        features[name] = {"psi": value, "drift": bool(value > threshold)}
    return {
        "threshold": threshold,
        "features": features,
        "drift_detected": any(f["drift"] for f in features.values()),
    }


def _check_baseline(baseline: object, path: Path) -> dict:
    fix = "regenerate it with monitoring.py from raw baseline data"
    if not isinstance(baseline, dict) or not isinstance(baseline.get("features"), dict):
        raise JobInputError(f"{path} has no 'features' object; {fix}")
    features = baseline["features"]
    for name in schema.NUMERIC:
        stats = features.get(name)
        if not isinstance(stats, dict) or any(key not in stats for key in STAT_KEYS):
            raise JobInputError(f"{path} lacks the statistics of feature {name!r}; {fix}")
        if len(stats["bin_fractions"]) != len(stats["bin_edges"]) + 1:
            raise JobInputError(f"{path} has inconsistent bins for feature {name!r}; {fix}")
    return baseline


def load_baseline(source: str | Path, bins: int, chunk_rows: int | None = None) -> dict:
    """The baseline from a `baseline.json` (file or in the directory) or from raw data."""
    path = Path(source)
    json_path = path / BASELINE_FILE if path.is_dir() else path
    if json_path.suffix == ".json" and json_path.is_file():
        try:
            baseline = json.loads(json_path.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            raise JobInputError(
                f"{json_path} is not valid JSON ({error}); regenerate it with monitoring.py"
            ) from error
        return _check_baseline(baseline, json_path)
    data = read_census(source, features=schema.NUMERIC, label="ignore", chunk_rows=chunk_rows)
    return compute_baseline(data, bins)


def _json_writer(document: dict) -> Callable[[Path], int]:
    return lambda path: path.write_text(json.dumps(document, indent=2))


def main(args: argparse.Namespace) -> None:
    # Read in chunks: only the numeric columns are kept, as floats, so memory holds those
    # and one chunk's raw text, not the whole file's.
    baseline = load_baseline(args.baseline_dir, args.bins, args.chunk_rows)
    data = read_census(
        args.input_dir, features=schema.NUMERIC, label="ignore", chunk_rows=args.chunk_rows
    )
    drift = detect_drift(baseline, data, args.psi_threshold)
    output_dir = Path(args.output_dir)
    write_outputs(
        {
            output_dir / BASELINE_FILE: _json_writer(baseline),
            output_dir / "drift.json": _json_writer(drift),
        }
    )
    print(f"{'feature':<34}{'psi':>10}  drift")
    for name, result in drift["features"].items():
        print(f"{name:<34}{result['psi']:>10.4f}  {'yes' if result['drift'] else 'no'}")
    print(f"monitoring: drift detected: {'yes' if drift['drift_detected'] else 'no'}")


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _bin_count(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-dir", default="/opt/ml/processing/baseline")
    parser.add_argument("--input-dir", default="/opt/ml/processing/input/data")
    parser.add_argument("--output-dir", default="/opt/ml/processing/monitoring")
    parser.add_argument("--psi-threshold", type=_positive_float, default=0.2)
    parser.add_argument("--bins", type=_bin_count, default=10)
    add_chunk_rows_argument(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(run_main(main, parse_args))

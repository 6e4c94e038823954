"""Batch inference job: predict income classes for preprocessed features.

Writes `predictions.csv` with one row per input row, in input order: `prediction` (0/1 at
the decision threshold) and `probability` (of the positive class).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

try:
    from .csv_input import iter_numeric_table
    from .evaluation import model_features
    from .jobs_common import (
        add_chunk_rows_argument,
        atomic_outputs,
        data_files,
        load_model,
        run_main,
    )
    from .train import positive_probability
except ImportError:  # run as a script from the flat code folder
    from csv_input import iter_numeric_table
    from evaluation import model_features
    from jobs_common import (
        add_chunk_rows_argument,
        atomic_outputs,
        data_files,
        load_model,
        run_main,
    )
    from train import positive_probability


def predict(model: Any, features: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Predictions and positive-class probabilities, row for row."""
    probability = positive_probability(model, features).reset_index(drop=True)
    return pd.DataFrame(
        {"prediction": (probability >= threshold).astype(int), "probability": probability}
    )


def main(args: argparse.Namespace) -> None:
    model = load_model(args.model_dir)
    target = Path(args.output_dir) / "predictions.csv"
    rows = positives = 0
    # Chunk by chunk: predictions are row for row, so memory holds one chunk, not the input.
    with atomic_outputs([target]) as temporary, temporary[target].open("w", newline="") as out:
        for path in data_files(args.input_dir):
            for chunk in iter_numeric_table(path, args.chunk_rows):
                # Each file is checked on its own, so a stray CSV in the channel is named.
                predictions = predict(
                    model, model_features(model, chunk, str(path)), args.threshold
                )
                predictions.to_csv(out, index=False, header=rows == 0)
                rows += len(predictions)
                positives += int(predictions["prediction"].sum())
    print(f"inference: {rows} predictions, {positives / rows:.1%} positive")


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="/opt/ml/processing/model")
    parser.add_argument("--input-dir", default="/opt/ml/processing/input/data")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--threshold", type=_probability, default=0.5)
    add_chunk_rows_argument(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(run_main(main, parse_args))

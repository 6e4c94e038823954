"""Fit a linear churn score by least squares; write model.json to the model directory.

A SageMaker training job: reads clean.csv from the train channel, writes
--model-dir/model.json (SageMaker packs the model directory as model.tar.gz).
"""

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np

FEATURES = ["tenure", "monthly_charges", "support_calls"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--train-dir", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    return parser.parse_args(argv)


def main(args):
    with (Path(args.train_dir) / "clean.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = np.array([[float(row[name]) for name in FEATURES] for row in rows])
    target = np.array([float(row["churned"]) for row in rows])
    design = np.column_stack([np.ones(len(rows)), features])
    weights, *_ = np.linalg.lstsq(design, target, rcond=None)
    accuracy = float(np.mean((design @ weights > 0.5) == (target > 0.5)))
    model = {
        "intercept": float(weights[0]),
        "weights": dict(zip(FEATURES, map(float, weights[1:]), strict=True)),
        "train_rows": len(rows),
        "train_accuracy": accuracy,
    }
    Path(args.model_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.model_dir) / "model.json").write_text(json.dumps(model))
    print(f"fit: {len(rows)} rows, train accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main(parse_args())

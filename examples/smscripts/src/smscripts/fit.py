"""Fit a random forest to the train channel's CSV files: a SageMaker training script.

Written as SageMaker's scikit-learn examples are: each directory and hyperparameter is an
argument whose default is what SageMaker sets in the environment (SM_MODEL_DIR,
SM_CHANNEL_TRAIN, SM_OUTPUT_DATA_DIR, SM_HP_*, SM_NUM_CPUS). Writes model.joblib to the
model directory and metrics.json to the output data directory.

The same file serves the model, as SageMaker's scikit-learn container serves it: `model_fn`
loads it and `predict_fn` answers each row with its label and the probability of label 1.
The framework's defaults decode the request (CSV or JSON rows of numbers) and encode the
answer (JSON, or CSV when the request accepts text/csv).
"""

import argparse
import json
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--n-estimators", type=int, default=os.environ.get("SM_HP_N_ESTIMATORS", "50")
    )
    parser.add_argument("--max-depth", type=int, default=os.environ.get("SM_HP_MAX_DEPTH"))
    parser.add_argument("--target", default="label")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--output-data-dir", default=os.environ["SM_OUTPUT_DATA_DIR"])
    parser.add_argument("--n-jobs", type=int, default=os.environ.get("SM_NUM_CPUS", "1"))
    return parser.parse_args(argv)


def main(args):
    files = sorted(Path(args.train).glob("*.csv"))
    data = pd.concat([pd.read_csv(path) for path in files], ignore_index=True)
    features, target = data.drop(columns=[args.target]), data[args.target]
    train_x, test_x, train_y, test_y = train_test_split(
        features, target, test_size=0.25, random_state=args.seed, stratify=target
    )
    model = RandomForestClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    ).fit(train_x, train_y)
    metrics = {
        "train_rows": len(train_x),
        "train_accuracy": model.score(train_x, train_y),
        "test_accuracy": model.score(test_x, test_y),
    }
    joblib.dump(model, Path(args.model_dir) / "model.joblib")
    Path(args.output_data_dir, "metrics.json").write_text(json.dumps(metrics))
    print("metrics:", json.dumps(metrics))


def model_fn(model_dir):
    return joblib.load(Path(model_dir) / "model.joblib")


def predict_fn(data, model):
    rows = pd.DataFrame(data, columns=model.feature_names_in_)
    labels = model.predict(rows)
    positive = list(model.classes_).index(1)
    return np.column_stack([labels, model.predict_proba(rows)[:, positive]])


if __name__ == "__main__":
    main(parse_args())

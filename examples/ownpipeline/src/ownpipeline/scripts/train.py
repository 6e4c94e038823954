"""Training job: a scikit-learn classifier on the train channel, saved to the model dir.

Written for SageMaker Training as is: SM_CHANNEL_TRAIN and SM_MODEL_DIR come from the
training container's environment.
"""

import json
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression


def main() -> None:
    train = Path(os.environ["SM_CHANNEL_TRAIN"])
    model_dir = Path(os.environ["SM_MODEL_DIR"])
    data = np.loadtxt(train / "train.csv", delimiter=",", ndmin=2)
    labels, features = data[:, 0], data[:, 1:]
    model = LogisticRegression().fit(features, labels)
    accuracy = float(model.score(features, labels))
    joblib.dump(model, model_dir / "model.joblib")
    (model_dir / "metrics.json").write_text(
        json.dumps({"rows": len(labels), "train_accuracy": accuracy})
    )
    print(f"train: {len(labels)} rows, train accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()

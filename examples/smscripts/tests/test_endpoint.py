"""The forest served by its own training script (model_fn, predict_fn), through mlmax's
`sm_endpoint`: trained in its container, served in its container, asked with CSV and JSON."""

import csv
import io
import json
import tarfile
from pathlib import Path

import joblib
import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
TRAIN = PROJECT / "data" / "train"


def flat(rows: list[list[float]]) -> list[float]:
    return [value for row in rows for value in row]


def expected(model_dir: Path, rows: pd.DataFrame) -> list[list[float]]:
    """What the trained forest says of `rows` here, on the host: [label, probability of 1]."""
    with tarfile.open(model_dir / "model.tar.gz") as tar:
        model = joblib.load(tar.extractfile("model.joblib"))
    labels = model.predict(rows)
    positive = model.predict_proba(rows)[:, list(model.classes_).index(1)]
    return [[float(label), float(p)] for label, p in zip(labels, positive, strict=True)]


@pytest.mark.smlocal
def test_the_forest_is_served_with_csv_and_json(sm_local, sm_endpoint, tmp_path):
    sm_local.run("fit", inputs={"train": TRAIN}, outputs={"model": tmp_path / "model"})
    # Three rows of each label.
    data = pd.read_csv(TRAIN / "shapes.csv")
    rows = data.groupby("label").head(3).drop(columns=["label"])
    want = expected(tmp_path / "model", rows)
    assert {label for label, _ in want} == {0.0, 1.0}

    endpoint = sm_endpoint.deploy(tmp_path / "model", endpoint="forest")
    # CSV rows through the SDK's runtime client; JSON back (the default).
    answer = endpoint.invoke(rows.to_csv(index=False, header=False), "text/csv")
    assert answer.status == 200, answer.body
    assert len(answer.json()) == len(want)
    assert flat(answer.json()) == pytest.approx(flat(want), abs=1e-12)
    # JSON rows over plain HTTP; CSV back.
    answer = endpoint.post(json.dumps(rows.values.tolist()), "application/json", "text/csv")
    assert (answer.status, answer.content_type) == (200, "text/csv"), answer.body
    got = [[float(v) for v in row] for row in csv.reader(io.StringIO(answer.body.decode()))]
    assert len(got) == len(want)
    assert flat(got) == pytest.approx(flat(want), abs=1e-12)
    # A row the model cannot take: one sentence, and the endpoint serves on.
    short = endpoint.invoke("1.0,2.0\n", "text/csv")
    assert short.status == 400
    assert short.json()["error"].startswith("predict_fn of fit.py refused the request")
    assert endpoint.invoke(rows.head(1).to_csv(index=False, header=False)).status == 200

"""The census serving script on the host, behind the contract server that serves it in its
container: a real waitress server on 127.0.0.1, real HTTP requests.

Predictions must equal batch inference's (preprocessing --mode infer, then inference.py) for
the same rows, whatever the payload's format; bad payloads get a 4xx with one sentence and
the server keeps serving.
"""

from __future__ import annotations

import http.client
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from mlmax.localmode.endpoint import handler_server
from mlmax_census.jobs import inference, preprocessing, schema, serving
from mlmax_census.jobs.jobs_common import MODEL_FILE
from tests.support.endpoint_http import served_on_loopback

from .helpers import JOBS_DIR, write_kdd_file

ROWS = 40


@pytest.fixture(scope="module")
def serving_dir(prepared: SimpleNamespace, model_dir: Path, tmp_path_factory) -> Path:
    """What the endpoint's /opt/ml/model holds: the model and the preprocessor."""
    directory = tmp_path_factory.mktemp("serving-model")
    shutil.copy2(model_dir / MODEL_FILE, directory)
    shutil.copy2(prepared.proc_model / preprocessing.PROC_MODEL_ARCHIVE, directory)
    return directory


@pytest.fixture(scope="module")
def server(serving_dir: Path) -> Iterator[int]:
    """The WSGI app under waitress on a free loopback port, for this module."""
    handler = handler_server.Handler.from_module(serving, serving_dir)
    yield from served_on_loopback(handler, handler_server.DEFAULT_MAX_BODY_BYTES)


def request(port: int, body: bytes | str, content_type: str, accept: str = "", **kw):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    try:
        payload = body.encode() if isinstance(body, str) else body
        connection.request(
            kw.get("method", "POST"), kw.get("path", "/invocations"), payload, headers
        )
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def rows(raw_csv: Path) -> pd.DataFrame:
    """The first ROWS raw rows, as strings exactly as in the file."""
    return pd.read_csv(raw_csv, dtype=str, keep_default_na=False).head(ROWS)


@pytest.fixture(scope="module")
def batch(rows, prepared, model_dir, tmp_path_factory) -> pd.DataFrame:
    """Batch inference's predictions for `rows`: the two jobs, through their files."""
    root = tmp_path_factory.mktemp("batch")
    rows.to_csv(root / "rows.csv", index=False)
    preprocessing.main(
        preprocessing.parse_args(
            ["--mode", "infer", "--input-dir", str(root / "rows.csv"),
             "--proc-model-dir", str(prepared.proc_model), "--output-dir", str(root / "features"),
             "--labels-dir", str(root / "labels")]
        )
    )  # fmt: skip
    inference.main(
        inference.parse_args(
            ["--model-dir", str(model_dir), "--input-dir", str(root / "features"),
             "--output-dir", str(root / "predictions")]
        )
    )  # fmt: skip
    return pd.read_csv(root / "predictions" / "predictions.csv")


def as_frame(content_type: str, body: bytes) -> pd.DataFrame:
    if content_type.startswith("text/csv"):
        return pd.read_csv(io.BytesIO(body))
    return pd.DataFrame(json.loads(body)["predictions"])


def assert_same(served: pd.DataFrame, batch: pd.DataFrame) -> None:
    assert list(served.columns) == ["prediction", "probability"]
    assert served["prediction"].tolist() == batch["prediction"].tolist()
    assert served["probability"].tolist() == pytest.approx(batch["probability"].tolist(), abs=1e-12)


def test_raw_csv_rows_equal_batch_inference(server, rows, batch):
    status, content_type, body = request(server, rows.to_csv(index=False), "text/csv")
    assert status == 200, body
    assert_same(as_frame(content_type, body), batch)


def test_raw_json_records_equal_batch_inference_and_csv_on_request(server, rows, batch):
    payload = json.dumps({"instances": rows.to_dict(orient="records")})
    status, content_type, body = request(server, payload, "application/json", "text/csv")
    assert status == 200, body
    assert content_type == "text/csv"
    assert_same(as_frame(content_type, body), batch)


def test_feature_rows_with_and_without_header_equal_batch_inference(server, rows, batch, prepared):
    features = preprocessing.transform(
        preprocessing.load_preprocessor(prepared.proc_model), serving_table(rows)
    )
    for body in (features.to_csv(index=False), features.to_csv(index=False, header=False)):
        status, content_type, answer = request(server, body, "text/csv")
        assert status == 200, answer
        assert_same(as_frame(content_type, answer), batch)
    status, content_type, answer = request(
        server, json.dumps(features.values.tolist()), "application/json"
    )
    assert status == 200, answer
    assert_same(as_frame(content_type, answer), batch)


def serving_table(rows: pd.DataFrame) -> pd.DataFrame:
    from mlmax_census.jobs.csv_input import census_table

    return census_table(rows.drop(columns=[schema.LABEL]), schema.FEATURES, "rows", 2)


def test_headerless_kdd_rows_are_accepted(server, tmp_path):
    path = write_kdd_file(tmp_path / "census.data", rows=5, seed=1)
    status, content_type, body = request(server, path.read_text(), "text/csv")
    assert status == 200, body
    served = as_frame(content_type, body)
    assert len(served) == 5
    assert served["probability"].between(0, 1).all()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        ("age,education\nforty,Bachelors\n", "text/csv", 400, "lack the census column"),
        ("not json", "application/json", 400, "not valid JSON"),
        ("[]", "application/json", 400, "non-empty array"),
        ("1,2,3\n", "text/csv", 400, "rows without a header"),
        ("age\n", "text/csv", 400, "no data rows"),
        ("x", "application/x-npy", 415, "not supported"),
        ("[" * 100_000 + "]" * 100_000, "application/json", 400, "nested too deeply"),
        ('{"instances": ' + "[" * 5_000 + "]" * 5_000 + "}", "application/json", 400,
         "nested too deeply"),
    ],
)  # fmt: skip
def test_bad_payloads_get_a_4xx_with_one_sentence_and_serving_goes_on(
    server, rows, body, content_type, status, words
):
    code, answer_type, answer = request(server, body, content_type)
    assert code == status
    assert answer_type == "application/json"
    message = json.loads(answer)["error"]
    assert words in message
    assert "\n" not in message and "Traceback" not in message
    assert request(server, "", "", method="GET", path="/ping")[0] == 200
    good = request(server, rows.head(2).to_csv(index=False), "text/csv")
    assert good[0] == 200


def test_a_body_over_the_limit_gets_413_with_one_sentence_and_serving_goes_on(server, rows):
    too_large = b"1," * (35 * 1000 * 1000)  # 70 MB, over the default 64 MiB
    code, answer_type, answer = request(server, too_large, "text/csv")
    assert code == 413
    assert answer_type == "application/json"
    assert json.loads(answer)["error"] == (
        f"the body is {len(too_large)} bytes, more than this endpoint's limit of "
        f"{handler_server.DEFAULT_MAX_BODY_BYTES}; send fewer rows per request (or raise "
        "MLMAX_MAX_REQUEST_BYTES where it is served)"
    )
    assert request(server, "", "", method="GET", path="/ping")[0] == 200
    assert request(server, rows.head(2).to_csv(index=False), "text/csv")[0] == 200


def test_the_body_limit_comes_from_the_environment():
    limit = handler_server.max_body_bytes
    assert limit({}) == handler_server.DEFAULT_MAX_BODY_BYTES
    assert limit({handler_server.MAX_BODY_ENV: "1000"}) == 1000
    with pytest.raises(handler_server.HandlerLoadError, match="is not a number of bytes; set it"):
        limit({handler_server.MAX_BODY_ENV: "64MB"})


def test_text_where_a_number_belongs_names_the_column(server, rows):
    bad = rows.head(3).copy()
    bad.loc[1, "age"] = "forty"
    code, _, answer = request(server, bad.to_csv(index=False), "text/csv")
    assert code == 400
    assert "'age'" in json.loads(answer)["error"]
    assert "forty" in json.loads(answer)["error"]


def test_wrong_path_and_method(server):
    assert request(server, "", "", method="GET", path="/nothing")[0] == 404
    assert request(server, "", "", method="GET", path="/invocations")[0] == 405
    assert request(server, "", "", method="POST", path="/ping")[0] == 405


def test_missing_preprocessor_stops_the_server_with_one_line(model_dir, tmp_path):
    shutil.copy2(model_dir / MODEL_FILE, tmp_path)
    done = subprocess.run(
        [sys.executable, handler_server.__file__, "--handler", str(JOBS_DIR / "serving.py"),
         "--model-dir", str(tmp_path), "--host", "127.0.0.1", "--port", "0"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "proc_model.tar.gz" in done.stderr
    assert "Traceback" not in done.stderr

"""The contract server on the host: inference scripts with some, all or none of `model_fn`,
`input_fn`, `predict_fn`, `output_fn`, served by a real waitress server on 127.0.0.1 and asked
over real HTTP; every failure is a status with one sentence and the server serves on."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlmax.localmode.endpoint import handler_server
from tests.support.endpoint_http import served_on_loopback

# Predicts 1 where the first value is positive.
DATA = np.array([[-2.0, 0.0], [-1.0, 1.0], [1.0, 0.0], [2.0, 1.0]])
LABELS = np.array([0, 0, 1, 1])

OWN_FUNCTIONS = """
import json
from pathlib import Path
import joblib

class Refused(Exception):
    status_code = 422

def model_fn(model_dir):
    return joblib.load(Path(model_dir) / "custom.bin")

def input_fn(body, content_type):
    if content_type != "application/vnd.pairs":
        raise Refused(f"send application/vnd.pairs, not {content_type}")
    return [[float(v) for v in pair.split(":")] for pair in body.decode().split()]

def predict_fn(data, model):
    if data == [[0.0, 0.0]]:
        raise KeyError("origin")
    return model.predict(data)

def output_fn(prediction, accept):
    return " ".join(str(int(v)) for v in prediction)
"""


def _load(script: Path, model_dir: Path) -> handler_server.Handler:
    module = handler_server.load_script(script)
    return handler_server.Handler.from_module(module, model_dir, script.name)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    joblib.dump(LogisticRegression().fit(DATA, LABELS), folder / "model.joblib")
    return folder


@pytest.fixture(scope="module")
def defaults(model_dir, tmp_path_factory) -> Iterator[int]:
    """A script with none of the functions: every default, the model from model.joblib."""
    script = tmp_path_factory.mktemp("bare") / "bare.py"
    script.write_text("# serving: the framework's defaults only\n")
    yield from served_on_loopback(_load(script, model_dir), max_body=1000)


@pytest.fixture(scope="module")
def own(model_dir, tmp_path_factory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("own")
    (folder / "own_handler.py").write_text(OWN_FUNCTIONS)
    models = tmp_path_factory.mktemp("own-model")
    joblib.dump(joblib.load(model_dir / "model.joblib"), models / "custom.bin")
    yield from served_on_loopback(_load(folder / "own_handler.py", models), max_body=1000)


def call(port: int, body: bytes | str, content_type: str = "", accept: str = ""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept)) if v}
    try:
        connection.request("POST", "/invocations", body, headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def _error(answer) -> str:
    _, content_type, body = answer
    assert content_type == "application/json"
    message = json.loads(body)["error"]
    assert "\n" not in message and "Traceback" not in message
    return message


def test_the_defaults_decode_csv_json_and_npy_and_encode_json_csv_and_npy(defaults):
    rows = "-3,0\n3,1\n"
    assert call(defaults, rows, "text/csv")[1:] == ("application/json", b"[0, 1]")
    assert call(defaults, rows) == (
        200,
        "application/json",
        b"[0, 1]",
    )  # CSV is SageMaker's default
    assert call(defaults, "[[-3, 0], [3, 1]]", "application/json", "text/csv")[2] == b"0\n1\n"
    npy = io.BytesIO()
    np.save(npy, np.array([[3.0, 0.0]]))
    status, content_type, body = call(
        defaults, npy.getvalue(), "application/x-npy", "application/x-npy"
    )
    assert (status, content_type) == (200, "application/x-npy")
    assert np.load(io.BytesIO(body)).tolist() == [1]


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "words"),
    [
        ("a,b\n1,2\n", "text/csv", "", 400, "the CSV body is not rows of numbers"),
        ('{"a": 1}', "application/json", "", 400, "not an array of numbers"),
        ("[" * 400 + "]" * 400, "application/json", "", 400, "not an array of numbers"),
        ("1,2", "text/plain", "", 415, "content type 'text/plain' is not supported"),
        ("1,2", "text/csv", "application/xml", 406, "Accept 'application/xml' is not supported"),
        ("1,2,3\n", "text/csv", "", 400, "predict_fn of bare.py refused the request (ValueError: "),
        ("1," * 600, "text/csv", "", 413, "more than this endpoint's limit of 1000"),
    ],
    ids=["csv-header", "json-object", "json-deep", "type", "accept", "width", "too-large"],
)
def test_a_bad_request_gets_its_status_with_one_sentence_and_serving_goes_on(
    defaults, body, content_type, accept, status, words
):
    answer = call(defaults, body, content_type, accept)
    assert answer[0] == status
    assert words in _error(answer)
    assert call(defaults, "3,1\n", "text/csv")[0] == 200


def test_the_scripts_own_functions_replace_the_defaults(own, capfd):
    assert call(own, "3:1 -3:0", "application/vnd.pairs", "text/plain") == (
        200,
        "text/plain",  # output_fn gave text: sent as the Accept type
        b"1 0",
    )
    refused = call(own, "3,1", "text/csv")
    assert refused[0] == 422  # the script's own status
    assert _error(refused) == "send application/vnd.pairs, not text/csv"
    failed = call(own, "0:0", "application/vnd.pairs")
    assert failed[0] == 500
    assert _error(failed) == (
        "predict_fn of own_handler.py failed (KeyError: 'origin'); see the endpoint's log for "
        "the traceback"
    )
    assert "KeyError: 'origin'" in capfd.readouterr().err  # the traceback went to the log
    assert call(own, "3:1", "application/vnd.pairs")[2] == b"1"


def _server_run(tmp_path: Path, script: Path, model_dir: Path, **env: str):
    return subprocess.run(
        [sys.executable, handler_server.__file__, "--handler", str(script),
         "--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", "0"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**env, "PATH": ""},
    )  # fmt: skip


def test_no_model_fn_and_no_model_file_stops_the_server_naming_model_fn(tmp_path):
    script = tmp_path / "bare.py"
    script.write_text("")
    (tmp_path / "empty").mkdir()
    done = _server_run(tmp_path, script, tmp_path / "empty")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: the handler has no model_fn and {tmp_path / 'empty'} holds no model file "
        "(*.joblib, *.pkl, *.pickle); define model_fn(model_dir) in the inference script"
    )


def test_a_script_that_fails_to_import_stops_the_server_naming_the_module(tmp_path):
    script = tmp_path / "needs.py"
    script.write_text("import not_installed_anywhere\n")
    done = _server_run(tmp_path, script, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: the inference script needs.py failed to import (ModuleNotFoundError: No module "
        "named 'not_installed_anywhere'); fix it (a missing module goes in the project's "
        "requirements)"
    )

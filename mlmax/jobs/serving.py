"""Real-time inference: the trained census model behind SageMaker's hosting contract.

SageMaker starts the serving container with the argument `serve`; the image's `serve`
executable runs this script, which listens on port 8080 with waitress (a WSGI server):

- `GET /ping`: 200 once the model and the preprocessor are loaded.
- `POST /invocations`: rows as CSV (`text/csv`) or JSON (`application/json`), either raw
  census rows (the columns `preprocessing.py` reads, header or the headerless KDD extract)
  or model features (the columns `preprocessing.py --mode infer` writes). The answer holds
  one `prediction` (0/1) and `probability` (of the positive class) per row, in input order:
  JSON by default, CSV when the request says `Accept: text/csv`.

The model directory (`/opt/ml/model`, or `--model-dir`) holds `model.tar.gz` (or
`model.joblib`) from train.py and `proc_model.tar.gz` from preprocessing.py: the same
artefacts batch inference uses, through the same functions, so the predictions are equal.
A bad request gets a 4xx with one sentence naming the problem (413 for a body over
MLMAX_MAX_REQUEST_BYTES, default 64 MiB); the server keeps serving.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

try:
    from . import schema
    from .csv_input import census_table, numeric_features
    from .evaluation import model_features
    from .inference import predict
    from .jobs_common import JobInputError, load_model, run_main
    from .preprocessing import load_preprocessor, transform
except ImportError:  # run as a script from the flat code folder
    import schema
    from csv_input import census_table, numeric_features
    from evaluation import model_features
    from inference import predict
    from jobs_common import JobInputError, load_model, run_main
    from preprocessing import load_preprocessor, transform

SOURCE = "the request"
# The largest request body answered (413 beyond it), in bytes: MAX_BODY_ENV, else 64 MiB.
MAX_BODY_ENV = "MLMAX_MAX_REQUEST_BYTES"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# A client that sends its whole body before reading the answer (most do) sees the 413 only
# if the server reads that body: up to this many times the limit is read and dropped;
# beyond it waitress refuses at once and such a client sees the connection reset.
DRAIN_FACTOR = 4
CSV_TYPES = ("text/csv", "application/csv")
JSON_TYPES = ("application/json",)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class RequestError(Exception):
    """A request the client can fix: an HTTP status and one sentence."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class Predictor:
    """The loaded model and preprocessor; turns a table of rows into predictions."""

    def __init__(self, model_dir: str | Path) -> None:
        self.model = load_model(model_dir)
        self.preprocessor = load_preprocessor(model_dir)
        self.feature_names = [str(name) for name in self.model.feature_names_in_]

    def features_of(self, table: pd.DataFrame) -> pd.DataFrame:
        """Model features for raw census rows or for rows that already are features."""
        columns = set(table.columns)
        if set(self.feature_names) <= columns:
            chosen = table[self.feature_names]
            return model_features(self.model, numeric_features(chosen, SOURCE), SOURCE)
        if set(schema.FEATURES) <= columns:
            # A label column is ignored: only the features are needed to predict.
            unlabelled = table.drop(columns=[schema.LABEL], errors="ignore")
            raw = census_table(unlabelled, schema.FEATURES, SOURCE, first_line=1)
            return model_features(self.model, transform(self.preprocessor, raw), SOURCE)
        census_missing = [name for name in schema.FEATURES if name not in columns]
        if len(census_missing) < len(schema.FEATURES):
            raise JobInputError(
                f"the rows lack the census column(s) {', '.join(map(repr, census_missing))}; "
                "send every census feature column (or the model's feature columns)"
            )
        raise JobInputError(
            f"the rows name neither the census columns ({', '.join(schema.FEATURES)}) nor the "
            f"model's {len(self.feature_names)} feature columns; send one of the two"
        )

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        return predict(self.model, self.features_of(table))

    def positional_columns(self, width: int) -> list[str]:
        """Column names for headerless rows, recognised by their number of fields."""
        by_width = {
            len(self.feature_names): self.feature_names,
            len(schema.KDD_COLUMNS): list(schema.KDD_COLUMNS),
            len(schema.FEATURES): list(schema.FEATURES),
        }
        if width not in by_width:
            raise JobInputError(
                f"rows without a header must have {len(self.feature_names)} feature values, "
                f"{len(schema.FEATURES)} census values ({', '.join(schema.FEATURES)}) or the "
                f"{len(schema.KDD_COLUMNS)} fields of the KDD extract, not {width}; add a header"
            )
        return by_width[width]


def _text(value: Any) -> str:
    # Everything goes through the same string parsing as a CSV file: None means missing.
    return "" if value is None else str(value)


def _table_from_rows(predictor: Predictor, rows: list[list[str]]) -> pd.DataFrame:
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise JobInputError("the request holds no rows; send at least one row")
    known = set(schema.REQUIRED) | set(predictor.feature_names)
    header = [cell.strip() for cell in rows[0]]
    if known & set(header):
        names, body = header, rows[1:]
        if not body:
            raise JobInputError("the request has a header but no data rows; add data rows")
    else:
        names, body = predictor.positional_columns(len(rows[0])), rows
    widths = {len(row) for row in body}
    if widths != {len(names)}:
        raise JobInputError(
            f"every row must have {len(names)} fields like the first one, but some have "
            f"{sorted(widths - {len(names)}) or sorted(widths)}; fix the rows"
        )
    return pd.DataFrame(body, columns=names, dtype=object)


def parse_csv(predictor: Predictor, body: bytes) -> pd.DataFrame:
    try:
        text = body.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as error:
        raise JobInputError(f"the body is not UTF-8 CSV ({error}); send CSV text") from error
    return _table_from_rows(predictor, rows)


def parse_json(predictor: Predictor, body: bytes) -> pd.DataFrame:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise JobInputError(f"the body is not valid JSON ({error}); send a JSON array") from error
    except RecursionError:
        raise JobInputError(_TOO_DEEP) from None
    if isinstance(payload, dict) and "instances" in payload:
        payload = payload["instances"]
    if not isinstance(payload, list) or not payload:
        raise JobInputError(
            'the JSON must be a non-empty array of rows (objects or arrays), or {"instances": '
            "[...]}; wrap the rows in an array"
        )
    if all(isinstance(row, dict) for row in payload):
        names = list(dict.fromkeys(key for row in payload for key in row))
        rows = [[_text(row.get(name)) for name in names] for row in payload]
        return _table_from_rows(predictor, [names, *rows])
    if all(isinstance(row, list) for row in payload):
        return _table_from_rows(predictor, [[_text(v) for v in row] for row in payload])
    raise JobInputError("the JSON rows must be all objects or all arrays; send one kind")


_TOO_DEEP = (
    "the JSON is nested too deeply to read; send an array of rows, each an object or an array "
    "of values"
)


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def _wants_csv(accept: str | None) -> bool:
    types = [_media_type(part) for part in (accept or "").split(",")]
    return any(t in CSV_TYPES for t in types) and not any(t in JSON_TYPES for t in types)


def render(predictions: pd.DataFrame, as_csv: bool) -> tuple[str, bytes]:
    """The response body: (content type, bytes); floats keep every digit."""
    if as_csv:
        return "text/csv", predictions.to_csv(index=False).encode()
    rows = [
        {"prediction": int(p), "probability": float(q)}
        for p, q in zip(predictions["prediction"], predictions["probability"], strict=True)
    ]
    return "application/json", json.dumps({"predictions": rows}).encode()


def invocation(
    predictor: Predictor, content_type: str | None, accept: str | None, body: bytes
) -> tuple[str, bytes]:
    """Predict for one request body; raises RequestError for what the client can fix."""
    media = _media_type(content_type) or "text/csv"  # SageMaker's default content type
    if media in CSV_TYPES:
        parse = parse_csv
    elif media in JSON_TYPES:
        parse = parse_json
    else:
        raise RequestError(
            "415 Unsupported Media Type",
            f"content type {media!r} is not supported; send text/csv or application/json",
        )
    try:
        predictions = predictor.predict(parse(predictor, body))
    except JobInputError as error:
        raise RequestError("400 Bad Request", str(error)) from error
    except RecursionError:  # nesting that json reads but the rows' values cannot hold
        raise RequestError("400 Bad Request", _TOO_DEEP) from None
    return render(predictions, _wants_csv(accept))


def _respond(start: StartResponse, status: str, content_type: str, body: bytes) -> Iterable[bytes]:
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _error(start: StartResponse, status: str, message: str) -> Iterable[bytes]:
    body = json.dumps({"error": message}).encode()
    return _respond(start, status, "application/json", body)


def max_body_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """The request body limit: MAX_BODY_ENV (a whole number of bytes) or the default."""
    text = environ.get(MAX_BODY_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BODY_BYTES
    if not text.isdigit() or int(text) < 1:
        raise JobInputError(
            f"{MAX_BODY_ENV}={text!r} is not a number of bytes; set it to a whole number "
            f"such as {DEFAULT_MAX_BODY_BYTES} or unset it"
        )
    return int(text)


def server_options(max_body: int) -> dict[str, Any]:
    """What waitress needs to let `make_app` answer too large a body with its 413."""
    return {"max_request_body_size": DRAIN_FACTOR * max_body}


def make_app(
    predictor: Predictor, max_body: int = DEFAULT_MAX_BODY_BYTES
) -> Callable[[dict, StartResponse], Iterable[bytes]]:
    """The WSGI application: /ping and /invocations (bodies up to `max_body` bytes)."""

    def app(environ: dict, start: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return _error(start, "405 Method Not Allowed", "use GET /ping")
            return _respond(start, "200 OK", "application/json", b'{"status": "ok"}')
        if path != "/invocations":
            return _error(start, "404 Not Found", f"no {path}; use GET /ping, POST /invocations")
        if method != "POST":
            return _error(start, "405 Method Not Allowed", "use POST /invocations")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > max_body:
            return _error(
                start,
                "413 Content Too Large",
                f"the body is {length} bytes, more than this endpoint's limit of {max_body}; "
                f"send fewer rows per request (or raise {MAX_BODY_ENV} where it is served)",
            )
        body = environ["wsgi.input"].read(length)
        try:
            content_type, answer = invocation(
                predictor, environ.get("CONTENT_TYPE"), environ.get("HTTP_ACCEPT"), body
            )
        except RequestError as error:
            return _error(start, error.status, str(error))
        return _respond(start, "200 OK", content_type, answer)

    return app


def main(args: argparse.Namespace) -> None:
    import waitress

    max_body = max_body_bytes()
    predictor = Predictor(args.model_dir)
    print(
        f"serving: model and preprocessor from {args.model_dir} loaded; listening on "
        f"{args.host}:{args.port}",
        flush=True,
    )
    waitress.serve(
        make_app(predictor, max_body),
        host=args.host,
        port=args.port,
        threads=args.threads,
        ident="mlmax",
        **server_options(max_body),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="/opt/ml/model")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    # Several threads: a request stopped at a breakpoint leaves /ping and others answering.
    parser.add_argument("--threads", type=int, default=4)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run_main(main, parse_args))

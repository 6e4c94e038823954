"""Real-time inference: the trained census model, written to the framework serving contract.

SageMaker's framework containers serve a script that defines `model_fn`, `input_fn`,
`predict_fn` and `output_fn`; mlmax's serving container does the same (its contract server,
mlmax/localmode/endpoint/handler_server.py, answers GET /ping and POST /invocations on
port 8080 and turns each function's errors into 4xx/5xx answers). This is one such script:

- `model_fn`: the model directory (`/opt/ml/model`) holds `model.tar.gz` (or `model.joblib`)
  from train.py and `proc_model.tar.gz` from preprocessing.py: the same artefacts batch
  inference uses, through the same functions, so the predictions are equal.
- `input_fn`: rows as CSV (`text/csv`) or JSON (`application/json`), either raw census rows
  (the columns `preprocessing.py` reads, header or the headerless KDD extract) or model
  features (the columns `preprocessing.py --mode infer` writes).
- `output_fn`: one `prediction` (0/1) and `probability` (of the positive class) per row, in
  input order: JSON by default, CSV when the request says `Accept: text/csv`.

A bad request gets a 4xx with one sentence naming the problem; the server keeps serving.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pandas as pd

try:
    from . import schema
    from .csv_input import census_table, numeric_features
    from .evaluation import model_features
    from .inference import predict
    from .jobs_common import JobInputError, load_model
    from .preprocessing import load_preprocessor, transform
except ImportError:  # loaded by the contract server from the flat code folder
    import schema
    from csv_input import census_table, numeric_features
    from evaluation import model_features
    from inference import predict
    from jobs_common import JobInputError, load_model
    from preprocessing import load_preprocessor, transform

SOURCE = "the request"
CSV_TYPES = ("text/csv", "application/csv")
JSON_TYPES = ("application/json",)


class RequestError(Exception):
    """A request the client can fix: the HTTP status the contract server answers with and
    one sentence."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class Predictor:
    """The loaded model and preprocessor; turns a table of rows into predictions."""

    def __init__(self, model_dir: str) -> None:
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


def parse_csv(body: bytes) -> list[list[str]]:
    try:
        text = body.decode("utf-8")
        return list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as error:
        raise JobInputError(f"the body is not UTF-8 CSV ({error}); send CSV text") from error


def parse_json(body: bytes) -> list[list[str]]:
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
        return [names, *rows]
    if all(isinstance(row, list) for row in payload):
        return [[_text(v) for v in row] for row in payload]
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


# -- the serving contract ------------------------------------------------------------------


def model_fn(model_dir: str) -> Predictor:
    return Predictor(model_dir)


def input_fn(body: bytes, content_type: str) -> list[list[str]]:
    """The request's rows as text; the model's columns are known to predict_fn."""
    media = _media_type(content_type) or "text/csv"  # SageMaker's default content type
    if media in CSV_TYPES:
        parse = parse_csv
    elif media in JSON_TYPES:
        parse = parse_json
    else:
        raise RequestError(
            415, f"content type {media!r} is not supported; send text/csv or application/json"
        )
    try:
        return parse(body)
    except JobInputError as error:
        raise RequestError(400, str(error)) from error


def predict_fn(rows: list[list[str]], predictor: Predictor) -> pd.DataFrame:
    try:
        return predictor.predict(_table_from_rows(predictor, rows))
    except JobInputError as error:
        raise RequestError(400, str(error)) from error
    except RecursionError:  # nesting that json reads but the rows' values cannot hold
        raise RequestError(400, _TOO_DEEP) from None


def output_fn(predictions: pd.DataFrame, accept: str) -> tuple[bytes, str]:
    content_type, body = render(predictions, _wants_csv(accept))
    return body, content_type

"""The framework serving contract, served: GET /ping and POST /invocations around an
inference script that defines `model_fn`, `input_fn`, `predict_fn` and `output_fn`.

SageMaker's framework containers (scikit-learn's among them) serve a script written to this
contract; so does this module, inside mlmax's serving container. Each function is optional:

- `model_fn(model_dir)`: the model, loaded once before /ping answers; default: the one
  `*.joblib` / `*.pkl` file in the model directory, loaded with joblib;
- `input_fn(body, content_type)`: the request body decoded; default: text/csv, application/json
  and application/x-npy into a numpy array;
- `predict_fn(data, model)`: default `model.predict(data)`;
- `output_fn(prediction, accept)`: bytes or text (sent as the Accept type), or a (body,
  content type) pair; default: JSON (also for */*), text/csv or application/x-npy.

An exception whose `status_code` attribute is a 4xx/5xx status answers with that status and
its message; a ValueError is the request's fault (400); anything else is a 500 naming the
function, with the traceback in the endpoint's log. Bodies over MLMAX_MAX_REQUEST_BYTES
(default 64 MiB) get a 413. Every error answer is `{"error": one sentence}`, and the server
keeps serving.

This file runs in the container (mlmax stages it next to the handler's code, so no image
holds it): only the standard library and the job image's numpy, joblib and waitress, nothing
of mlmax. `python3 handler_server.py --handler fit.py` serves a script by hand.
"""

from __future__ import annotations

import argparse
import csv
import http
import importlib.util
import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

HANDLER_ENV = "MLMAX_HANDLER"  # the inference script, relative to this file's folder
MAX_BODY_ENV = "MLMAX_MAX_REQUEST_BYTES"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# A client that sends its whole body before reading the answer (most do) sees the 413 only
# if the server reads that body: up to this many times the limit is read and dropped;
# beyond it waitress refuses at once and such a client sees the connection reset.
DRAIN_FACTOR = 4
DEFAULT_CONTENT_TYPE = "text/csv"  # what SageMaker's hosting assumes without a Content-Type
JSON = "application/json"
CSV_TYPES = ("text/csv", "application/csv")
NPY = "application/x-npy"
MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")
CONTRACT = ("model_fn", "input_fn", "predict_fn", "output_fn")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class RequestRefused(ValueError):
    """A request the client can fix: an HTTP status and one sentence."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class HandlerLoadError(Exception):
    """The script or its model could not be loaded: one sentence for the log."""


def media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


# -- the framework's defaults --------------------------------------------------------------


def default_model_fn(model_dir: str) -> Any:
    """The one joblib or pickle file in `model_dir`, loaded with joblib."""
    import joblib

    found = sorted(p for p in Path(model_dir).iterdir() if p.suffix in MODEL_SUFFIXES)
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(p.name for p in found)})"
        raise HandlerLoadError(
            f"the handler has no model_fn and {model_dir} holds {what} model file "
            f"({', '.join('*' + s for s in MODEL_SUFFIXES)}); define model_fn(model_dir) "
            "in the inference script"
        )
    return joblib.load(found[0])


def default_input_fn(body: bytes, content_type: str) -> Any:
    """CSV rows, a JSON array or a .npy body as a numpy array."""
    import numpy as np

    media = media_type(content_type) or DEFAULT_CONTENT_TYPE
    if media in CSV_TYPES:
        try:
            rows = [row for row in csv.reader(io.StringIO(body.decode("utf-8"))) if row]
            return np.array(rows, dtype=float)
        except (UnicodeDecodeError, csv.Error, ValueError) as error:
            raise RequestRefused(
                400,
                f"the CSV body is not rows of numbers of equal length ({error}); send numbers "
                "only, without a header, or give the inference script an input_fn",
            ) from None
    if media == JSON:
        try:
            payload = json.loads(body)
            return np.array(payload, dtype=float)
        except RecursionError:
            raise RequestRefused(
                400, "the JSON is nested too deeply to read; send an array of rows of numbers"
            ) from None
        except (UnicodeDecodeError, ValueError, TypeError) as error:
            raise RequestRefused(
                400,
                f"the JSON body is not an array of numbers or of rows of numbers ({error}); "
                "send e.g. [[1.0, 2.0]], or give the inference script an input_fn",
            ) from None
    if media == NPY:
        try:
            return np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise RequestRefused(
                400, f"the body is not a .npy array ({error}); send what numpy.save writes"
            ) from None
    raise RequestRefused(
        415,
        f"content type {media!r} is not supported; send text/csv, application/json or "
        "application/x-npy, or give the inference script an input_fn",
    )


def default_predict_fn(data: Any, model: Any) -> Any:
    if not callable(getattr(model, "predict", None)):
        raise TypeError(
            f"the model ({type(model).__name__}) has no predict(); define predict_fn(data, model)"
        )
    return model.predict(data)


def _plain(value: Any) -> Any:
    """Numpy arrays and scalars, pandas frames and series as JSON-ready Python values."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a DataFrame: its records
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _csv_text(prediction: Any) -> str:
    if hasattr(prediction, "to_csv"):
        return str(prediction.to_csv(index=False))
    rows = _plain(prediction)
    rows = rows if isinstance(rows, list) else [rows]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row if isinstance(row, list) else [row])
    return out.getvalue()


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """The prediction in the first supported type of `accept` (JSON for */* or none)."""
    for part in (accept or JSON).split(","):
        media = media_type(part)
        if media in (JSON, "*/*", "application/*", ""):
            return json.dumps(_plain(prediction)).encode(), JSON
        if media in CSV_TYPES:
            return _csv_text(prediction).encode(), "text/csv"
        if media == NPY:
            import numpy as np

            out = io.BytesIO()
            np.save(out, np.asarray(prediction), allow_pickle=False)
            return out.getvalue(), NPY
    raise RequestRefused(
        406,
        f"Accept {accept!r} is not supported; ask for application/json, text/csv or "
        "application/x-npy, or give the inference script an output_fn",
    )


# -- the handler: the script's functions and the loaded model ------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Handler:
    """An inference script's contract functions (defaults where it has none) and its model."""

    name: str  # the script's file name, for messages
    model: Any
    input_fn: Callable[[bytes, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]

    @classmethod
    def from_module(cls, module: ModuleType, model_dir: str | Path, name: str = "") -> Handler:
        """The handler of an imported script, its model loaded from `model_dir`."""
        name = name or Path(module.__file__ or module.__name__).name
        model_fn = getattr(module, "model_fn", None) or default_model_fn
        try:
            model = model_fn(str(model_dir))
        except HandlerLoadError:
            raise
        except (ValueError, OSError) as error:
            raise HandlerLoadError(
                f"model_fn of {name} could not load the model from {model_dir} "
                f"({type(error).__name__}: {_one_line(str(error))}); fix the model directory "
                "or model_fn"
            ) from error
        return cls(
            name,
            model,
            getattr(module, "input_fn", None) or default_input_fn,
            getattr(module, "predict_fn", None) or default_predict_fn,
            getattr(module, "output_fn", None) or default_output_fn,
        )

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[str, bytes]:
        """(content type, body) of the answer; RequestRefused for every failure."""
        content_type = content_type or DEFAULT_CONTENT_TYPE
        data = self._call("input_fn", self.input_fn, body, content_type)
        prediction = self._call("predict_fn", self.predict_fn, data, self.model)
        result = self._call("output_fn", self.output_fn, prediction, accept)
        if isinstance(result, tuple) and len(result) == 2:
            answer, answer_type = result
        else:
            answer, answer_type = result, _first_type(accept)
        return str(answer_type), answer.encode() if isinstance(answer, str) else bytes(answer)

    def _call(self, what: str, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except Exception as error:
            raise self._refusal(what, error) from error

    def _refusal(self, what: str, error: Exception) -> RequestRefused:
        status = getattr(error, "status_code", None)
        message = _one_line(str(error))
        if isinstance(status, int) and 400 <= status < 600:
            return RequestRefused(status, message)
        if isinstance(error, (ValueError, RecursionError)):
            return RequestRefused(
                400,
                f"{what} of {self.name} refused the request ({type(error).__name__}: "
                f"{message}); send what the model expects",
            )
        traceback.print_exc()  # the endpoint's log keeps where it failed
        return RequestRefused(
            500,
            f"{what} of {self.name} failed ({type(error).__name__}: {message}); see the "
            "endpoint's log for the traceback",
        )


def _first_type(accept: str) -> str:
    media = media_type((accept or "").split(",")[0])
    return JSON if media in ("", "*/*") else media


def load_script(path: Path) -> ModuleType:
    """Import the inference script as a top-level module, its folder first on sys.path (so
    it imports its neighbours as it does when SageMaker runs it)."""
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise HandlerLoadError(f"{path} is not a Python file; point the endpoint at a .py script")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError as error:
        raise HandlerLoadError(
            f"the inference script {path} does not exist ({error.strerror}); check the "
            "endpoint's script"
        ) from None
    except Exception as error:
        traceback.print_exc()
        raise HandlerLoadError(
            f"the inference script {path.name} failed to import ({type(error).__name__}: "
            f"{_one_line(str(error))}); fix it (a missing module goes in the project's "
            "requirements)"
        ) from error
    return module


# -- HTTP ----------------------------------------------------------------------------------


def _respond(start: StartResponse, status: str, content_type: str, body: bytes) -> Iterable[bytes]:
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _error(start: StartResponse, status: int, message: str) -> Iterable[bytes]:
    body = json.dumps({"error": message}).encode()
    line = f"{status} {http.HTTPStatus(status).phrase}"
    return _respond(start, line, JSON, body)


def max_body_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """The request body limit: MAX_BODY_ENV (a whole number of bytes) or the default."""
    text = environ.get(MAX_BODY_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BODY_BYTES
    if not text.isdigit() or int(text) < 1:
        raise HandlerLoadError(
            f"{MAX_BODY_ENV}={text!r} is not a number of bytes; set it to a whole number "
            f"such as {DEFAULT_MAX_BODY_BYTES} or unset it"
        )
    return int(text)


def server_options(max_body: int) -> dict[str, Any]:
    """What waitress needs to let `make_app` answer too large a body with its 413."""
    return {"max_request_body_size": DRAIN_FACTOR * max_body}


def make_app(
    handler: Handler, max_body: int = DEFAULT_MAX_BODY_BYTES
) -> Callable[[dict, StartResponse], Iterable[bytes]]:
    """The WSGI application: /ping and /invocations (bodies up to `max_body` bytes)."""

    def app(environ: dict, start: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return _error(start, 405, "use GET /ping")
            return _respond(start, "200 OK", JSON, b'{"status": "ok"}')
        if path != "/invocations":
            return _error(start, 404, f"no {path}; use GET /ping, POST /invocations")
        if method != "POST":
            return _error(start, 405, "use POST /invocations")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > max_body:
            return _error(
                start,
                413,
                f"the body is {length} bytes, more than this endpoint's limit of {max_body}; "
                f"send fewer rows per request (or raise {MAX_BODY_ENV} where it is served)",
            )
        body = environ["wsgi.input"].read(length)
        try:
            content_type, answer = handler.invoke(
                body, environ.get("CONTENT_TYPE") or "", environ.get("HTTP_ACCEPT") or ""
            )
        except RequestRefused as refused:
            return _error(start, refused.status_code, str(refused))
        return _respond(start, "200 OK", content_type, answer)

    return app


def main(args: argparse.Namespace) -> int:
    import waitress

    if not args.handler:
        message = f"no inference script named; set {HANDLER_ENV} or pass --handler"
        print(f"error: {message}", file=sys.stderr)
        return 2
    try:
        max_body = max_body_bytes()
        script = Path(args.handler)
        handler = Handler.from_module(load_script(script), args.model_dir, script.name)
    except HandlerLoadError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    missing = [name for name in CONTRACT if name not in vars(sys.modules[script.stem])]
    defaults = f" (defaults for {', '.join(missing)})" if missing else ""
    print(
        f"serving: {script.name}{defaults}, model from {args.model_dir}; listening on "
        f"{args.host}:{args.port}",
        flush=True,
    )
    waitress.serve(
        make_app(handler, max_body),
        host=args.host,
        port=args.port,
        threads=args.threads,
        ident="mlmax",
        **server_options(max_body),
    )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    here = Path(__file__).resolve().parent
    named = os.environ.get(HANDLER_ENV)
    parser.add_argument("--handler", default=str(here / named) if named else None)
    parser.add_argument("--model-dir", default="/opt/ml/model")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    # Several threads: a request stopped at a breakpoint leaves /ping and others answering.
    parser.add_argument("--threads", type=int, default=4)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))

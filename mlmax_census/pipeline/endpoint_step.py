"""The optional endpoint step of `mlmax pipeline --endpoint`: deploy the run's model as a
real-time endpoint, send it the run's new data and check it predicts what batch inference
predicted for the same rows. The outcome goes to `<run>/endpoint/endpoint.json`."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from mlmax.common import MlmaxError
from mlmax_census.pipeline.definition import NEW_DATA
from mlmax_census.pipeline.inputs import INPUTS_DIR
from mlmax_census.pipeline.served import served_model_dirs

RESULT_FILE = Path("endpoint") / "endpoint.json"
PREDICTIONS = Path("inference") / "predictions" / "predictions.csv"
# Equal up to the last bits of a float: both sides run the same code on the same numbers.
TOLERANCE = 1e-9


class EndpointStepError(MlmaxError, RuntimeError):
    """The run has nothing an endpoint could serve or check against."""


@dataclass(frozen=True)
class EndpointCheck:
    rows: int
    mismatched_predictions: int
    max_probability_difference: float
    ready_seconds: float
    invoke_seconds: float

    @property
    def parity(self) -> bool:
        return self.mismatched_predictions == 0 and self.max_probability_difference <= TOLERANCE

    def summary(self) -> str:
        verdict = "equal to batch inference" if self.parity else "DIFFERENT from batch inference"
        return (
            f"{self.rows} rows {verdict} (max |Δp| {self.max_probability_difference:.1e}), "
            f"ready in {self.ready_seconds:.1f} s, invoked in {self.invoke_seconds:.2f} s"
        )


def compare(
    served: pd.DataFrame, batch: pd.DataFrame, ready: float, invoke: float
) -> EndpointCheck:
    if len(served) != len(batch):
        raise EndpointStepError(
            f"the endpoint answered {len(served)} rows for {len(batch)} sent; see its log"
        )
    mismatched = int((served["prediction"].to_numpy() != batch["prediction"].to_numpy()).sum())
    difference = (served["probability"] - batch["probability"]).abs().max()
    return EndpointCheck(len(batch), mismatched, float(difference), ready, invoke)


def run_endpoint_step(
    run_dir: Path, *, image: str, progress: Callable[[str], None] | None = None
) -> EndpointCheck:
    """Deploy, invoke with the run's new data (raw CSV), compare, write the result."""
    from mlmax.localmode.endpoint import deploy
    from mlmax.localmode.run import LocalMode

    dirs = served_model_dirs(run_dir)
    new_data = sorted((run_dir / INPUTS_DIR / NEW_DATA).glob("*"))
    if dirs is None or not (run_dir / PREDICTIONS).is_file() or len(new_data) != 1:
        raise EndpointStepError(
            f"run {run_dir} lacks a trained model, batch predictions or one new-data file; "
            "the endpoint step needs a pipeline run that succeeded"
        )
    batch = pd.read_csv(run_dir / PREDICTIONS)
    with (
        LocalMode(image=image) as local,
        deploy(
            dirs[0],
            proc_model_dir=dirs[1],
            image=image,
            session=local.active_session,
            progress=progress,
        ) as endpoint,
    ):
        started = time.monotonic()
        answer = endpoint.invoke(new_data[0].read_bytes(), "text/csv", accept="text/csv")
        invoke_seconds = time.monotonic() - started
    if answer.status != 200:
        raise EndpointStepError(
            f"the endpoint answered {answer.status} to the new data: {answer.body[:300]!r}"
        )
    served = pd.read_csv(io.BytesIO(answer.body))
    check = compare(served, batch, endpoint.ready_seconds, invoke_seconds)
    target = run_dir / RESULT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({**asdict(check), "parity": check.parity}, indent=2) + "\n")
    return check

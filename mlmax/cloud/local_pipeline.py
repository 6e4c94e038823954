"""The exported SageMaker Pipeline, executed here by the SDK's local pipeline session.

The pipeline object is the one `mlmax pipeline export` builds (`pipeline_export.exported`):
same parameters, same property wiring, same PropertyFile + ConditionStep + FailStep. Only
the session differs, and the values given at start time: instance type `local` for every
step and the S3 URIs of the run's data in the embedded S3 server. The SDK's executor then
runs each step as a Local Mode job (docker-compose on this machine), evaluates the condition
against the evaluation report it reads back from S3, and records the execution.

The session is the offline session's pipeline session (`OfflineSession.local_session` with
`pipeline=True`). The execution is one `LocalRun`: it blocks inside `Pipeline.start()`, which
runs as the run's SDK call so that a timeout or Ctrl-C lands here and stops the run; the
run's containers (labelled with its id) and private directory always go afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmax.cloud.pipeline_export import (
    DEFAULT_PREFIX,
    EVALUATION_OUTPUT,
    EVALUATION_STEP,
    PARAM_PROCESSING_INSTANCE,
    PARAM_TRAINING_INSTANCE,
    REPORT_FILE,
    ExportOptions,
    data_parameter_name,
    exported,
    write_definition,
)
from mlmax.common import Progress
from mlmax.localmode.errors import JobTimeoutError
from mlmax.localmode.run import LocalMode, LocalRun
from mlmax.localmode.sdk import (
    OfflineSession,
    pipeline_executor_logger,
    scoped_environ,
    sdk_output_to,
)
from mlmax.pipeline import DataSpec, TrainingOptions, stage_inputs

# Local Mode assumes no role, but the pipeline builders want the shape of one.
LOCAL_ROLE = "arn:aws:iam::000000000000:role/mlmax-local-pipeline"
LOCAL_INSTANCE_TYPE = "local"
RUN_JOB_LABEL = "pipeline"
INPUTS_PREFIX = "inputs"


def local_export_options(
    bucket: str, image: str, training: TrainingOptions | None = None
) -> ExportOptions:
    """The export options of a local execution: `mlmax pipeline export` with these options
    writes the very definition that runs here."""
    return ExportOptions(
        role=LOCAL_ROLE, bucket=bucket, image_uri=image, training=training or TrainingOptions()
    )


def start_parameters(
    data_uris: Mapping[str, str], overrides: Mapping[str, str | float] | None = None
) -> dict[str, str | float]:
    """Execution parameters: `local` instances and the run's data; `overrides` win."""
    values: dict[str, str | float] = {
        PARAM_PROCESSING_INSTANCE: LOCAL_INSTANCE_TYPE,
        PARAM_TRAINING_INSTANCE: LOCAL_INSTANCE_TYPE,
    }
    values.update({data_parameter_name(name): uri for name, uri in data_uris.items()})
    values.update(overrides or {})
    return values


@dataclass(frozen=True)
class StepOutcome:
    """One step of the execution as the SDK recorded it."""

    name: str
    status: str
    failure_reason: str | None = None
    seconds: float | None = None
    # FailStep: the error message it raised; ConditionStep: its outcome.
    detail: str | None = None


@dataclass(frozen=True)
class LocalPipelineResult:
    """What one local execution of the exported pipeline did and wrote."""

    run_id: str  # labels the execution's containers (org.mlmax.run)
    execution_id: str
    status: str
    failure_reason: str | None
    steps: tuple[StepOutcome, ...]
    definition: str
    parameters: dict[str, str | float]
    # evaluation.json as read back from the embedded S3 (None if evaluation never ran).
    evaluation: dict[str, Any] | None
    duration: float
    logs: str = ""
    outputs: Path | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    def step(self, name: str) -> StepOutcome:
        for outcome in self.steps:
            if outcome.name == name:
                return outcome
        raise KeyError(f"the execution has no step {name!r}; it ran {[s.name for s in self.steps]}")


class _ProgressFromLog(logging.Handler):
    """Forwards the executor's step start/end lines (it has no other progress hook)."""

    def __init__(self, say: Progress) -> None:
        super().__init__(logging.INFO)
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(("Starting pipeline step", "Pipeline step")):
            self._say(f"[pipeline] {message}")


@contextlib.contextmanager
def _sdk_logging(say: Progress) -> Iterator[None]:
    """The executor's step lines become progress; the rest stays off the terminal: the SDK
    sets the root logger to INFO on import, logs every compose file and config lookup,
    warns that job names leave the definition (expected), and probes IAM on the embedded S3
    server (which lacks that API and logs a 500 for each probe). Each logger that speaks
    during a run is quieted by name and put back after; the root logger is left as it is."""
    # The SDK's executor logs each step's start and end there: turned into progress lines.
    executor = logging.getLogger(pipeline_executor_logger())
    quieted = {
        "sagemaker": logging.ERROR,
        "sagemaker.config": logging.ERROR,
        "botocore": logging.WARNING,
        "boto3": logging.WARNING,
        "s3transfer": logging.WARNING,
        "urllib3": logging.WARNING,
        "docker": logging.WARNING,
        "werkzeug": logging.CRITICAL,
        "mlmax": logging.WARNING,
    }
    handler = _ProgressFromLog(say)
    saved_executor = (executor.level, executor.propagate)
    saved = {name: logging.getLogger(name).level for name in quieted}
    executor.addHandler(handler)
    executor.setLevel(logging.INFO)
    executor.propagate = False
    for name, level in quieted.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        executor.removeHandler(handler)
        executor.setLevel(saved_executor[0])
        executor.propagate = saved_executor[1]
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def step_outcomes(execution: Any) -> tuple[StepOutcome, ...]:
    outcomes = []
    for step in execution.list_steps()["PipelineExecutionSteps"]:
        metadata = step.get("Metadata") or {}
        detail = None
        if "Fail" in metadata:
            detail = str(metadata["Fail"].get("ErrorMessage"))
        elif "Condition" in metadata:
            detail = f"outcome {metadata['Condition'].get('Outcome')}"
        start, end = step.get("StartTime"), step.get("EndTime")
        outcomes.append(
            StepOutcome(
                name=step["StepName"],
                status=step["StepStatus"],
                failure_reason=step.get("FailureReason"),
                seconds=end - start if start is not None and end is not None else None,
                detail=detail,
            )
        )
    return tuple(outcomes)


class _S3:
    """The few S3 calls the run makes itself, on the embedded server."""

    def __init__(self, offline: OfflineSession) -> None:
        assert offline.boto_session is not None and offline.bucket is not None
        self.bucket = offline.bucket
        self.client = offline.boto_session.client("s3", endpoint_url=offline.s3_endpoint_url)

    def upload_dir(self, directory: Path, prefix: str) -> str:
        files = [p for p in sorted(Path(directory).rglob("*")) if p.is_file()]
        if not files:
            raise ValueError(f"input directory {directory} holds no files; put the data in it")
        for path in files:
            key = f"{prefix}/{path.relative_to(directory).as_posix()}"
            self.client.upload_file(str(path), self.bucket, key)
        return f"s3://{self.bucket}/{prefix}"

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def download(self, prefix: str, destination: Path) -> None:
        for key in self.keys(prefix + "/"):
            target = destination / key.removeprefix(prefix + "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.client.download_file(self.bucket, key, str(target))


def _shown(values: Mapping[str, str | float]) -> str:
    """The execution parameters worth a progress line (the data URIs are not)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items()) if not k.endswith("Uri"))


def run_local_pipeline(
    local: LocalMode,
    inputs: Mapping[str, Path],
    *,
    training: TrainingOptions | None = None,
    parameters: Mapping[str, str | float] | None = None,
    download_to: Path | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> LocalPipelineResult:
    """Build the exported pipeline, create it in the local session and run one execution.

    `inputs` maps the pipeline inputs (`train_data`, `new_data`) to host directories; they
    are uploaded to the embedded S3 and given as parameter values. `parameters` overrides
    execution parameters (e.g. `MinRocAuc`). With `download_to`, everything the execution
    wrote is copied there as `<step>/<output>/...`. A failed execution (a failing job, or the
    FailStep of the quality gate) is returned with its status, not raised.
    """
    if local.session is None:
        raise RuntimeError("use LocalMode as a context manager: with LocalMode(...) as lm")
    offline = local.session
    if offline.real_s3:
        raise ValueError(
            "the local pipeline mode runs on the embedded S3 only; leave MLMAX_REAL_S3 unset"
        )
    say = progress or (lambda _line: None)
    with LocalRun(offline, RUN_JOB_LABEL, image=local.image) as run:
        return _run(run, local.image, inputs, training, parameters, download_to, timeout, say)


def _run(
    run: LocalRun,
    image: str,
    inputs: Mapping[str, Path],
    training: TrainingOptions | None,
    parameters: Mapping[str, str | float] | None,
    download_to: Path | None,
    timeout: float | None,
    say: Progress,
) -> LocalPipelineResult:
    offline, run_id = run.session, run.run_id
    sdk_root = run.root / "sdk"
    sdk_root.mkdir()
    started = time.monotonic()
    # No IAM in Local Mode: the role is a placeholder, never validated against AWS.
    with (
        offline.pinned(),
        scoped_environ({"SAGEMAKER_VALIDATE_ROLE": "false"}),
        _sdk_logging(say),
    ):
        s3 = _S3(offline)
        data_uris = {
            name: s3.upload_dir(Path(path), f"{DEFAULT_PREFIX}/{INPUTS_PREFIX}/{run_id}/{name}")
            for name, path in inputs.items()
        }
        session = run.sdk_session(sdk_root, pipeline=True)
        options = local_export_options(s3.bucket, image, training)
        values = start_parameters(data_uris, parameters)
        say(f"building the exported pipeline {options.pipeline_name} (run {run_id})")
        with exported(options, session=session) as export:
            export.pipeline.create(role_arn=LOCAL_ROLE, description="mlmax local pipeline")
            say(f"running it in the local pipeline session ({_shown(values)})")
            execution = execute_pipeline(run, export.pipeline, values, timeout)
            definition = export.definition
        description = execution.describe()
        execution_id = description["PipelineExecutionArn"]
        prefix = f"{DEFAULT_PREFIX}/{execution_id}"
        report = f"{prefix}/{EVALUATION_STEP}/{EVALUATION_OUTPUT}/{REPORT_FILE}"
        evaluation = s3.read_json(report)
        if download_to is not None:
            s3.download(prefix, download_to)
    return LocalPipelineResult(
        run_id=run_id,
        execution_id=execution_id,
        status=description["PipelineExecutionStatus"],
        failure_reason=description.get("FailureReason"),
        steps=step_outcomes(execution),
        definition=definition,
        parameters=values,
        evaluation=evaluation,
        duration=time.monotonic() - started,
        logs=run.logs(),
        outputs=download_to,
    )


def execute_pipeline(
    run: LocalRun, pipeline: Any, values: Mapping[str, str | float], timeout: float | None
) -> Any:
    """`pipeline.start()` as the run's SDK call, waited for here with a deadline."""
    result: list[Any] = []
    thread = run.start_sdk_call(lambda: result.append(pipeline.start(parameters=values)))
    if not run.wait_sdk_call(thread, timeout):
        logs = run.logs()
        run.stop(thread)
        raise JobTimeoutError(pipeline.name, float(timeout or 0), logs)
    if thread.error is not None:
        raise thread.error
    return result[0]


DEFINITION_FILE = "pipeline-definition.json"
EXECUTION_FILE = "execution.json"


def execution_record(result: LocalPipelineResult) -> dict[str, Any]:
    """What `execution.json` in the run directory holds."""
    return {
        "execution_id": result.execution_id,
        "status": result.status,
        "failure_reason": result.failure_reason,
        "duration_seconds": round(result.duration, 3),
        "parameters": result.parameters,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "seconds": None if s.seconds is None else round(s.seconds, 3),
                "failure_reason": s.failure_reason,
                "detail": s.detail,
            }
            for s in result.steps
        ],
        "metrics": (result.evaluation or {}).get("metrics"),
    }


def run_census_local_pipeline(
    run_dir: Path,
    data: DataSpec,
    training: TrainingOptions,
    *,
    image: str | None = None,
    parameters: Mapping[str, str | float] | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> LocalPipelineResult:
    """`mlmax pipeline --runner local-pipeline`: the census data staged into `run_dir`, the
    exported pipeline run locally, its outputs in `run_dir/<step>/<output>/` (the layout of
    the other runners), plus the definition it ran and `execution.json`."""
    from mlmax.localmode.image import ensure_job_image

    image = image or ensure_job_image(progress=progress)
    inputs = stage_inputs(run_dir, data)
    # The SDK echoes every compose line from its thread; the container logs come back in the
    # result instead.
    with (
        LocalMode(image=image) as local,
        sdk_output_to(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", "Running within a PipelineSession", UserWarning)
        result = run_local_pipeline(
            local,
            inputs,
            training=training,
            parameters=parameters,
            download_to=run_dir,
            timeout=timeout,
            progress=progress,
        )
    write_definition(result.definition, run_dir / DEFINITION_FILE)
    write_definition(
        json.dumps(execution_record(result), indent=2) + "\n", run_dir / EXECUTION_FILE
    )
    return result

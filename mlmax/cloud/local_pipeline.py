"""The exported SageMaker Pipeline, executed here by the SDK's local pipeline session.

The pipeline object is the one `mlmax pipeline export` builds (`pipeline_export.exported`):
same parameters, same property wiring, same PropertyFile + ConditionStep + FailStep. Only
the session differs, and the values given at start time: instance type `local` for every
step and the S3 URIs of the run's data in the embedded S3 server. The SDK's executor then
runs each step as a Local Mode job (docker-compose on this machine), evaluates the condition
against the evaluation report it reads back from S3, and records the execution.

It runs the way a project's own pipeline runs (`project_pipeline`, the one path): the
session is its `LocalRun`'s pipeline session (`project_pipeline_session`), and
`run_project_pipeline` creates the pipeline and runs one execution as the run's SDK call, so
that a timeout or Ctrl-C lands here and stops the run; the run's containers (labelled with
its id) and private directory always go afterwards. What is the census sample's own: its
data uploaded to the embedded S3 as the execution's parameters, its evaluation report read
back, its outputs downloaded into the run directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmax.cloud.pipeline_export import (
    DEFAULT_PREFIX,
    PARAM_PROCESSING_INSTANCE,
    PARAM_TRAINING_INSTANCE,
    ExportOptions,
    data_parameter_name,
    exported,
    write_definition,
)
from mlmax.cloud.project_pipeline import (
    LOCAL_ROLE,
    ProjectPipelineRun,
    project_pipeline_session,
    quiet_sdk,
    run_project_pipeline,
)
from mlmax.common import Progress
from mlmax.localmode.run import LocalMode, LocalRun
from mlmax.localmode.sdk import OfflineSession
from mlmax.pipeline import Pipeline as Dag

LOCAL_INSTANCE_TYPE = "local"
RUN_JOB_LABEL = "pipeline"
INPUTS_PREFIX = "inputs"


def local_export_options(bucket: str, image: str, dag: Dag) -> ExportOptions:
    """The export options of a local execution: `mlmax pipeline export` with these options
    writes the very definition that runs here."""
    return ExportOptions(role=LOCAL_ROLE, bucket=bucket, image_uri=image, dag=dag)


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
class LocalPipelineResult(ProjectPipelineRun):
    """What one local execution of the exported pipeline did (as any pipeline run locally:
    its status, steps and logs) and what the census sample's run adds."""

    run_id: str  # labels the execution's containers (org.mlmax.run)
    definition: str
    parameters: dict[str, str | float]
    # The quality gate's report (the census sample's evaluation.json) as read back from the
    # embedded S3 (None if the DAG has no gate, or its step never ran).
    evaluation: dict[str, Any] | None
    duration: float
    outputs: Path | None = None

    @property
    def execution_id(self) -> str:
        return self.execution_arn


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
    dag: Dag,
    parameters: Mapping[str, str | float] | None = None,
    download_to: Path | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> LocalPipelineResult:
    """Build `dag`'s exported pipeline, create it in the local session and run one execution.

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
        return _run(run, local.image, inputs, dag, parameters, download_to, timeout, say)


def _run(
    run: LocalRun,
    image: str,
    inputs: Mapping[str, Path],
    dag: Dag,
    parameters: Mapping[str, str | float] | None,
    download_to: Path | None,
    timeout: float | None,
    say: Progress,
) -> LocalPipelineResult:
    offline, run_id = run.session, run.run_id
    started = time.monotonic()
    # The one path of a pipeline run locally (project_pipeline), as a project's own runs.
    with project_pipeline_session(run) as session:
        s3 = _S3(offline)
        data_uris = {
            name: s3.upload_dir(Path(path), f"{DEFAULT_PREFIX}/{INPUTS_PREFIX}/{run_id}/{name}")
            for name, path in inputs.items()
        }
        options = local_export_options(s3.bucket, image, dag)
        values = start_parameters(data_uris, parameters)
        say(f"building the exported pipeline {options.pipeline_name} (run {run_id})")
        with exported(options, session=session) as export:
            say(f"running it in the local pipeline session ({_shown(values)})")
            # A failed execution (a failing job, or the quality gate's FailStep) is a result.
            ran = run_project_pipeline(run, export.pipeline, values, timeout=timeout, check=False)
            definition = export.definition
        prefix = f"{DEFAULT_PREFIX}/{ran.execution_arn}"
        gate, evaluation = dag.gate, None
        if gate is not None:
            where = gate.report
            evaluation = s3.read_json(f"{prefix}/{where.step}/{where.output}/{gate.report_file}")
        if download_to is not None:
            s3.download(prefix, download_to)
    return LocalPipelineResult(
        **vars(ran),
        run_id=run_id,
        definition=definition,
        parameters=values,
        evaluation=evaluation,
        duration=time.monotonic() - started,
        outputs=download_to,
    )


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


def run_local_pipeline_into(
    run_dir: Path,
    dag: Dag,
    inputs: Mapping[str, Path],
    *,
    image: str | None = None,
    parameters: Mapping[str, str | float] | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> LocalPipelineResult:
    """`mlmax pipeline --runner local-pipeline`: `dag` exported and run locally on the data
    already staged in `inputs` (pipeline input -> host directory), its outputs in
    `run_dir/<step>/<output>/` (the layout of the other runners), plus the definition it ran
    and `execution.json`."""
    from mlmax.localmode.image import ensure_job_image

    image = image or ensure_job_image(progress=progress)
    # The container logs come back in the result instead of the SDK's echo.
    with LocalMode(image=image) as local, quiet_sdk(progress or (lambda _line: None)):
        result = run_local_pipeline(
            local,
            inputs,
            dag=dag,
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

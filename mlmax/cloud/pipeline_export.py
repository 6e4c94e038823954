"""The pipeline DAG as a SageMaker Pipeline definition (`sagemaker.mlops.workflow`).

The same runner-agnostic DAG (`mlmax.pipeline`) and the same step builders as the runners;
the session is a PipelineSession, so building a job captures its request instead of running
it. What a person may change per execution is a pipeline parameter: the input data, the
instance types and the quality gate's threshold. Steps are wired through `properties` (a
processing output's S3 URI, the training job's model artifact). A DAG with a quality gate
(the census sample's: evaluation's ROC AUC before batch inference) has its report read back
through a PropertyFile, and a ConditionStep runs the gated steps only when the metric reaches
the threshold, failing the execution (FailStep) otherwise.

Output is deterministic: the SDK's timestamped names are pinned to a hash of the code, the
code keys in S3 are content-addressed, and the JSON is written with sorted keys. The same
code and options give byte-identical files, which makes the definition reviewable in a diff.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmax.cloud.job_code import code_fingerprint, stage_job_code
from mlmax.cloud.settings import (
    DEFAULT_PREFIX,
    DEFAULT_PROCESSING_INSTANCE,
    DEFAULT_TRAINING_INSTANCE,
)
from mlmax.common import UsageError, require_extra
from mlmax.localmode.sdk import (
    UNIQUE_NAME,
    patched,
    processing_step,
    release_trainer_temp_dir,
    role_validation_error,
    training_step,
)
from mlmax.pipeline import Pipeline as Dag
from mlmax.pipeline import PipelineInput, QualityGate, Ref

FAIL_STEP = "model-below-threshold"  # the gate's FailStep

PARAM_PROCESSING_INSTANCE = "ProcessingInstanceType"
PARAM_TRAINING_INSTANCE = "TrainingInstanceType"


def data_parameter_name(pipeline_input: str) -> str:
    """`train_data` -> `TrainDataUri`: one S3 URI parameter per pipeline input."""
    return "".join(part.capitalize() for part in pipeline_input.split("_")) + "Uri"


@dataclass(frozen=True)
class ExportOptions:
    """What the exported definition is made of; everything else is a pipeline parameter."""

    role: str
    bucket: str
    image_uri: str
    # The DAG exported: the project's pipeline (the census sample's for `mlmax pipeline`).
    dag: Dag
    prefix: str = DEFAULT_PREFIX
    # Default: mlmax-<the DAG's name>.
    name: str | None = None
    # The quality gate's threshold; default: the DAG's own.
    threshold: float | None = None
    processing_instance_type: str = DEFAULT_PROCESSING_INSTANCE
    training_instance_type: str = DEFAULT_TRAINING_INSTANCE
    # Default S3 URIs of the pipeline inputs (parameters; overridable per execution).
    data_uris: Mapping[str, str] = field(default_factory=dict)

    @property
    def pipeline_name(self) -> str:
        return self.name or f"mlmax-{self.dag.name}"

    def data_uri(self, pipeline_input: str) -> str:
        return self.data_uris.get(
            pipeline_input, f"s3://{self.bucket}/{self.prefix}/data/{pipeline_input}"
        )


def _stable_unique_names(fingerprint: str) -> contextlib.AbstractContextManager[None]:
    # ModelTrainer names its code upload after a timestamped job name; in a pipeline the
    # name only places the code in S3, so a code hash serves and keeps the JSON stable.
    def hashed(_timestamped: Any) -> Any:
        def unique(base: str, *_: Any, **__: Any) -> str:
            return f"{base}-{fingerprint}"

        return unique

    return patched(UNIQUE_NAME, hashed)


class _Builder:
    """Turns the DAG's steps into SDK steps, one at a time in dependency order."""

    def __init__(self, dag: Dag, options: ExportOptions, session: Any, code_dir: Path) -> None:
        from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString

        self.fingerprint = code_fingerprint(code_dir)
        self.dag = dag
        self.options = options
        self.session = session
        self.code_dir = code_dir
        self.data = {
            name: ParameterString(data_parameter_name(name), default_value=options.data_uri(name))
            for name in dag.inputs
        }
        self.processing_instance = ParameterString(
            PARAM_PROCESSING_INSTANCE, default_value=options.processing_instance_type
        )
        self.training_instance = ParameterString(
            PARAM_TRAINING_INSTANCE, default_value=options.training_instance_type
        )
        gate = dag.gate
        self.threshold = (
            ParameterFloat(gate.parameter, default_value=options.threshold or gate.threshold)
            if gate is not None
            else None
        )
        self.sdk_steps: dict[str, Any] = {}
        self.report: Any = None

    @property
    def parameters(self) -> list[Any]:
        gate = [self.threshold] if self.threshold is not None else []
        return [*self.data.values(), self.processing_instance, self.training_instance, *gate]

    def _source(self, source: PipelineInput | Ref) -> Any:
        if isinstance(source, PipelineInput):
            return self.data[source.name]
        upstream = self.sdk_steps[source.step]
        if self.dag.step(source.step).definition.kind == "training":
            return upstream.properties.ModelArtifacts.S3ModelArtifacts
        return upstream.properties.ProcessingOutputConfig.Outputs[source.output].S3Output.S3Uri

    def _output_uri(self, step: str, output: str) -> Any:
        from sagemaker.core.workflow.execution_variables import ExecutionVariables
        from sagemaker.core.workflow.functions import Join

        base = f"s3://{self.options.bucket}/{self.options.prefix}"
        return Join(on="/", values=[base, ExecutionVariables.PIPELINE_EXECUTION_ID, step, output])

    def build(self, step_name: str) -> Any:
        from sagemaker.core.workflow.properties import PropertyFile
        from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep

        step = self.dag.step(step_name)
        job = step.definition
        inputs = {channel: self._source(source) for channel, source in step.inputs.items()}
        arguments = [*job.default_arguments, *step.arguments]
        if job.kind == "training":
            training = training_step(
                job,
                image=self.options.image_uri,
                session=self.session,
                inputs=inputs,
                arguments=arguments,
                instance_type=self.training_instance,
                role=self.options.role,
                code_dir=self.code_dir,
                output_path=self._output_uri(step.name, job.outputs[0].name),
                job_name_prefix=f"mlmax-{step.name}",
            )
            step_args = training.trainer.train(input_data_config=training.input_data)
            sdk_step = TrainingStep(name=step.name, step_args=step_args)
        else:
            # The job name only places the code upload in S3 (SageMaker names the jobs of
            # an execution itself); a code hash instead of a timestamp keeps it stable.
            processing = processing_step(
                job,
                image=self.options.image_uri,
                session=self.session,
                inputs=inputs,
                outputs={o.name: self._output_uri(step.name, o.name) for o in job.outputs},
                arguments=arguments,
                instance_type=self.processing_instance,
                role=self.options.role,
                code_dir=self.code_dir,
                job_name=f"mlmax-{step.name}-{self.fingerprint}",
            )
            property_files = []
            gate = self.dag.gate
            if gate is not None and step.name == gate.report.step:
                self.report = PropertyFile(
                    name=f"{step.name.capitalize()}Report",
                    output_name=gate.report.output,
                    path=gate.report_file,
                )
                property_files.append(self.report)
            sdk_step = ProcessingStep(
                name=step.name,
                step_args=processing.processor.run(**processing.run_arguments),
                property_files=property_files or None,
            )
        self.sdk_steps[step.name] = sdk_step
        return sdk_step

    def quality_gate(self, gate: QualityGate, gated: list[Any]) -> Any:
        """Gated steps run when the metric >= threshold; otherwise the execution fails."""
        from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
        from sagemaker.core.workflow.functions import Join, JsonGet
        from sagemaker.mlops.workflow.condition_step import ConditionStep
        from sagemaker.mlops.workflow.fail_step import FailStep

        metric = JsonGet(
            step_name=gate.report.step, property_file=self.report, json_path=gate.metric
        )
        fail = FailStep(
            name=FAIL_STEP,
            error_message=Join(
                on=" ",
                values=[gate.label, metric, "is below the threshold", self.threshold],
            ),
        )
        return ConditionStep(
            name=f"check-{gate.label.lower().replace(' ', '-')}",
            conditions=[ConditionGreaterThanOrEqualTo(left=metric, right=self.threshold)],
            if_steps=gated,
            else_steps=[fail],
        )


def build_pipeline(options: ExportOptions, session: Any, code_dir: Path) -> Any:
    """The SDK Pipeline object (call `.definition()` inside `_stable_unique_names`)."""
    from sagemaker.mlops.workflow.pipeline import Pipeline

    dag = options.dag
    builder = _Builder(dag, options, session, code_dir)
    top_level: list[Any] = []
    gated: list[Any] = []
    gate = dag.gate
    for step in dag.order():
        is_gated = gate is not None and step.name in gate.gated
        (gated if is_gated else top_level).append(builder.build(step.name))
    if gate is not None:
        top_level.append(builder.quality_gate(gate, gated))
    return Pipeline(
        name=options.pipeline_name,
        parameters=builder.parameters,
        steps=top_level,
        sagemaker_session=session,
    )


def canonical_json(definition: str) -> str:
    """Sorted keys, two-space indent, final newline: stable bytes for a diff or a golden file."""
    return json.dumps(json.loads(definition), indent=2, sort_keys=True) + "\n"


@dataclass
class Export:
    """A built pipeline, its canonical definition and the session that built it."""

    pipeline: Any
    definition: str


@contextlib.contextmanager
def exported(
    options: ExportOptions, boto_session: Any = None, *, session: Any = None
) -> Iterator[Export]:
    """Build the pipeline against `boto_session` (its S3 receives the code uploads).

    `session` replaces the PipelineSession made from `boto_session`: the local pipeline
    mode (mlmax.cloud.local_pipeline) builds the very same pipeline with a local one.
    The pipeline object is only valid inside the block (its code lives in a temp dir), so
    upsert/start go inside it too.
    """
    require_extra("pipelines", "a SageMaker Pipeline definition")
    from mlmax.localmode.sdk import import_sdk, install_sdk_hooks

    import_sdk("sagemaker.mlops.workflow.pipeline")
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    # The SDK re-validates its config on every lookup, most of an export's work.
    install_sdk_hooks(local_mode=False)
    if session is None:
        session = PipelineSession(boto_session=boto_session, default_bucket=options.bucket)
    with tempfile.TemporaryDirectory(prefix="mlmax-export-") as tmp:
        code_dir = stage_job_code(Path(tmp) / "code")
        with _stable_unique_names(code_fingerprint(code_dir)):
            pipeline = build_pipeline(options, session, code_dir)
            try:
                definition = canonical_json(pipeline.definition())
                yield Export(pipeline, definition)
            finally:
                release_trainer_temp_dirs(pipeline)


def release_trainer_temp_dirs(pipeline: Any) -> None:
    """Remove the temp dirs ModelTrainer keeps for its drivers.

    Under a PipelineSession `train()` returns before its own clean-up, so each trainer keeps
    a TemporaryDirectory in the system temp dir until it is garbage-collected, which a local
    pipeline session postpones to process exit (the SDK's local client keeps every job, and
    through it the pipeline).
    """
    from sagemaker.mlops.workflow.steps import TrainingStep

    for step in pipeline.steps:
        if isinstance(step, TrainingStep) and step.step_args is not None:
            release_trainer_temp_dir(step.step_args)


def write_definition(definition: str, path: Path) -> None:
    """Write atomically: a half-written definition must never look like a finished one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(definition, encoding="utf-8")
    partial.replace(path)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    pipeline_arn: str | None = None
    execution_arn: str | None = None


class RoleRefusedError(UsageError):
    """IAM says the execution role cannot run the pipeline's jobs (`--upsert` validates it)."""


class OfflineIamCallError(RuntimeError):
    """The offline export tried to call IAM; it must not (there is no account to ask)."""


def _refuse_iam(event_name: str = "", **_: Any) -> None:
    operation = event_name.rsplit(".", 1)[-1]
    raise OfflineIamCallError(f"the offline export makes no IAM call ({operation} refused)")


@contextlib.contextmanager
def emulated_aws_session(region: str) -> Iterator[Any]:
    """A boto session on moto in-process: building the definition uploads code to S3, and
    a plain export must not need an AWS account. The uploads are discarded; `--upsert`
    builds against the real account and uploads them for real.

    No IAM call is made, whatever credentials the environment holds: ModelTrainer's role
    validation (iam:SimulatePrincipalPolicy) means nothing against an emulated account, so it
    is off for the export, and any other IAM request is refused before it is sent.
    """
    import boto3
    import moto

    from mlmax.localmode.sdk import scoped_environ

    with moto.mock_aws(), scoped_environ({"SAGEMAKER_VALIDATE_ROLE": "false"}):
        session = boto3.Session(
            aws_access_key_id="mlmax-export",
            aws_secret_access_key="mlmax-export",  # an emulated account: not a secret
            region_name=region,
        )
        # Registered before any client exists: botocore copies the hooks into each client.
        session.events.register("before-call.iam", _refuse_iam)
        yield session


def _role_validation_line(error: BaseException, role: str) -> str:
    """The SDK's multi-line RoleValidationError as one sentence naming the role and the fix."""
    text = str(error)
    missing = next(
        (
            line.split(":", 1)[1].strip()
            for line in text.splitlines()
            if "Missing permissions" in line
        ),
        None,
    )
    if "trust policy" in text:
        why = "its trust policy does not let SageMaker assume it"
    elif missing:
        why = f"it lacks the permission(s) {missing}"
    else:
        why = "it cannot be used for SageMaker training"
    return f"the execution role {role} failed validation: {why}; grant that, or pass another --role"


def export_pipeline(
    options: ExportOptions,
    path: Path,
    *,
    boto_session: Any,
    upsert: bool = False,
    start: bool = False,
    progress: Any = None,
) -> ExportResult:
    """Write the definition to `path`; optionally create/update the pipeline and start it."""
    say = progress or (lambda _line: None)
    if start and not upsert:
        raise ValueError("--start needs --upsert: a pipeline must exist before it can start")
    try:
        with exported(options, boto_session) as export:
            write_definition(export.definition, path)
            say(f"wrote the pipeline definition to {path}")
            if not upsert:
                return ExportResult(path)
            response = export.pipeline.upsert(role_arn=options.role)
            pipeline_arn = response["PipelineArn"]
            say(f"pipeline {options.pipeline_name} created or updated: {pipeline_arn}")
            execution_arn = None
            if start:
                execution = export.pipeline.start()
                execution_arn = execution.arn
                say(f"execution started: {execution_arn}")
            return ExportResult(path, pipeline_arn, execution_arn)
    except role_validation_error() as error:
        raise RoleRefusedError(_role_validation_line(error, options.role)) from None

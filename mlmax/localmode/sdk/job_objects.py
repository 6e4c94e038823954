"""Turn one job of the catalogue into SageMaker SDK objects, without running them.

The builders here are shared by every runner that goes through the SDK: Local Mode passes a
LocalSession and instance type "local"; the SageMaker runner passes a real session, an
instance type and S3 URIs; the Pipeline export wires their objects into pipeline steps.
Running them (threads, timeouts, clean-up) is each runner's job. This module imports nothing
of Local Mode, so every runner can use it without an import cycle.

- Processing jobs use `FrameworkProcessor` with `source_dir` = the job's declared folder:
  the SDK packs the folder's CURRENT content on every run (helper modules included) and runs
  the script from `/opt/ml/processing/input/code`, so editing a job needs no image rebuild.
- Training uses `ModelTrainer` with `SourceCode(source_dir=jobs folder, command=...,
  args=...)`: with `command`, `args` reach the script exactly as on the host (hyperparameters
  would only reach `SM_HP_*`). In Local Mode the folder is bind-mounted, read live.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlmax.project import JOB_ENVIRONMENT, JobDefinition, base_job_name


class Interpreter(Protocol):
    """What the builders need of debug options (Local Mode's `DebugOptions`): the command that
    replaces plain `python3`. A protocol, so this module does not import Local Mode."""

    def python_command(self) -> list[str]: ...


@dataclass
class ProcessingStep:
    """A configured processor and the arguments of its `run` call."""

    job: JobDefinition
    processor: Any
    run_arguments: dict[str, Any]

    def execute(self, *, wait: bool = False, logs: bool = False) -> None:
        """Start the job. In Local Mode it blocks until the container exits, even with
        wait=False; wait=False, logs=False avoids the SDK's 10 s polls and CloudWatch."""
        self.processor.run(**self.run_arguments, wait=wait, logs=logs)


@dataclass
class TrainingStep:
    """A configured ModelTrainer and its input channels."""

    job: JobDefinition
    trainer: Any
    input_data: list[Any] = field(default_factory=list)

    def execute(self, *, wait: bool = True, logs: bool = False) -> None:
        self.trainer.train(input_data_config=self.input_data, wait=wait, logs=logs)


def processing_step(
    job: JobDefinition,
    *,
    image: str,
    session: Any,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    arguments: Sequence[str] = (),
    instance_type: str = "local",
    instance_count: int = 1,
    role: str | None = None,
    code_dir: Path | None = None,
    environment: Mapping[str, str] | None = None,
    debug: Interpreter | None = None,
    job_name: str | None = None,
    max_runtime_seconds: int | None = None,
) -> ProcessingStep:
    """A processing job: `inputs`/`outputs` map channel names to local paths or URIs.

    Local inputs are uploaded to the session's bucket by the SDK; outputs may be `file://`
    URIs in Local Mode or `s3://` URIs anywhere.
    """
    from sagemaker.core.processing import FrameworkProcessor

    if job.kind != "processing":
        raise ValueError(f"job {job.name!r} is a {job.kind} job, not a processing job")
    python = debug.python_command() if debug else ["python3"]
    processor = FrameworkProcessor(
        image_uri=image,
        # The SDK joins the command with spaces into its bash entry script: quote each part
        # (the debug bootstrap passes Python source with `python3 -c`).
        command=[shlex.quote(part) for part in python],
        role=role,
        instance_type=instance_type,
        instance_count=instance_count,
        sagemaker_session=session,
        env={**JOB_ENVIRONMENT, **(environment or {})},
        base_job_name=base_job_name(job.name),
        max_runtime_in_seconds=max_runtime_seconds,
    )
    return ProcessingStep(
        job=job,
        processor=processor,
        run_arguments={
            "code": job.script,
            "source_dir": str(code_dir or job.source_dir),
            "inputs": _processing_inputs(job, inputs),
            "outputs": _processing_outputs(job, outputs),
            # SageMaker refuses an empty ContainerArguments list; None leaves it out.
            "arguments": list(arguments) or None,
            "job_name": job_name,
        },
    )


def _processing_inputs(job: JobDefinition, inputs: Mapping[str, str]) -> list[Any]:
    """Each input channel, downloaded into the job's declared container path."""
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return [
        ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=_uri(source),
                local_path=job.input(name).container_path,
                s3_data_type="S3Prefix",
                s3_input_mode="File",
            ),
        )
        for name, source in inputs.items()
    ]


def _processing_outputs(job: JobDefinition, outputs: Mapping[str, str]) -> list[Any]:
    """Each output channel, uploaded from the job's declared container path when it ends."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return [
        ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=_uri(destination),
                local_path=job.output(name).container_path,
                s3_upload_mode="EndOfJob",
            ),
        )
        for name, destination in outputs.items()
    ]


def training_step(
    job: JobDefinition,
    *,
    image: str,
    session: Any | None,
    inputs: Mapping[str, str],
    arguments: Sequence[str] = (),
    instance_type: str = "local",
    instance_count: int = 1,
    role: str | None = None,
    code_dir: Path | None = None,
    environment: Mapping[str, str] | None = None,
    debug: Interpreter | None = None,
    local_container_root: Path | None = None,
    output_path: str | None = None,
    job_name_prefix: str | None = None,
) -> TrainingStep:
    """A training job: `inputs` map channel names to local directories or S3 URIs.

    With `local_container_root` the trainer runs in Local Mode (LOCAL_CONTAINER); otherwise
    it is a SageMaker training job writing its model under `output_path`.
    """
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
    from sagemaker.train import ModelTrainer
    from sagemaker.train.model_trainer import Mode

    if job.kind != "training":
        raise ValueError(f"job {job.name!r} is a {job.kind} job, not a training job")
    python = debug.python_command() if debug else ["python3"]
    source_code = SourceCode(
        source_dir=str(code_dir or job.source_dir),
        command=" ".join(shlex.quote(part) for part in [*python, job.script]),
        args=list(arguments),
    )
    local = local_container_root is not None
    options: dict[str, Any] = {
        "training_image": image,
        "source_code": source_code,
        "compute": Compute(instance_type=instance_type, instance_count=instance_count),
        "environment": {**JOB_ENVIRONMENT, **(environment or {})},
        "base_job_name": job_name_prefix or base_job_name(job.name),
        "sagemaker_session": session,
        "role": role,
    }
    if local:
        options["training_mode"] = Mode.LOCAL_CONTAINER
        options["local_container_root"] = str(local_container_root)
    elif output_path:
        options["output_data_config"] = OutputDataConfig(s3_output_path=output_path)
    trainer = ModelTrainer(**options)
    input_data = [
        InputData(channel_name=name, data_source=_uri(source)) for name, source in inputs.items()
    ]
    return TrainingStep(job=job, trainer=trainer, input_data=input_data)


def _uri(location: Any) -> Any:
    """A path becomes its string; strings and pipeline variables (an exported SageMaker
    Pipeline wires steps with `properties` references, which refuse `str()`) pass as is."""
    return str(location) if isinstance(location, Path) else location

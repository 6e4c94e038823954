"""The project's SageMaker Pipeline, built with the SDK's workflow classes.

`build(session)` is what a deployment script calls with a PipelineSession (then
`pipeline.upsert(role_arn=...)`); a test calls it with mlmax's `sm_pipeline_session`, and
`mlmax pipeline run ownpipeline.pipeline:build` runs it from the command line, locally.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent / "scripts"
DATA = Path(__file__).resolve().parents[2] / "data"
PREPROCESS_STEP = "Preprocess"
TRAIN_STEP = "Train"
# The job image: on SageMaker the scikit-learn framework image of the region; locally
# whatever the engine has under the name OWNPIPELINE_IMAGE gives.
IMAGE_VARIABLE = "OWNPIPELINE_IMAGE"
ROLE_VARIABLE = "OWNPIPELINE_ROLE"


def build(
    session: Any, image: str | None = None, role: str | None = None, data: Path = DATA
) -> Any:
    """The pipeline: Preprocess (data -> train.csv) feeds Train (a scikit-learn model).

    `image` and `role` default to OWNPIPELINE_IMAGE and OWNPIPELINE_ROLE."""
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.train import ModelTrainer

    image = image or os.environ[IMAGE_VARIABLE]
    role = role or os.environ[ROLE_VARIABLE]
    instance_type = ParameterString(name="InstanceType", default_value="ml.m5.large")
    min_rows = ParameterInteger(name="MinRows", default_value=10)
    base = f"s3://{session.default_bucket()}/ownpipeline"

    processor = ScriptProcessor(
        role=role,
        image_uri=image,
        command=["python3"],
        instance_type=instance_type,
        instance_count=1,
        sagemaker_session=session,
        base_job_name="ownpipeline-preprocess",
    )
    preprocess = ProcessingStep(
        name=PREPROCESS_STEP,
        step_args=processor.run(
            code=str(SCRIPTS / "preprocess.py"),
            inputs=[
                ProcessingInput(
                    input_name="raw",
                    s3_input=ProcessingS3Input(
                        s3_uri=str(data),
                        local_path="/opt/ml/processing/input",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="train",
                    s3_output=ProcessingS3Output(
                        s3_uri=Join(
                            on="/",
                            values=[base, ExecutionVariables.PIPELINE_EXECUTION_ID, "train"],
                        ),
                        local_path="/opt/ml/processing/train",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=["--min-rows", min_rows.to_string()],
        ),
    )

    trainer = ModelTrainer(
        training_image=image,
        source_code=SourceCode(source_dir=str(SCRIPTS), entry_script="train.py"),
        compute=Compute(instance_type=instance_type, instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=f"{base}/models"),
        base_job_name="ownpipeline-train",
        sagemaker_session=session,
        role=role,
    )
    train_data = preprocess.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    train = TrainingStep(
        name=TRAIN_STEP,
        step_args=trainer.train(
            input_data_config=[InputData(channel_name="train", data_source=train_data)]
        ),
    )
    return Pipeline(
        name="ownpipeline",
        parameters=[instance_type, min_rows],
        steps=[preprocess, train],
        sagemaker_session=session,
    )

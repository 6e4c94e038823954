"""The runner-agnostic pipeline: its definition, its execution and its run directory."""

from mlmax.pipeline.census import run_census
from mlmax.pipeline.definition import (
    MODEL_TYPES,
    NEW_DATA,
    TRAIN_DATA,
    Pipeline,
    PipelineDefinitionError,
    PipelineInput,
    Ref,
    Step,
    TrainingOptions,
    census_pipeline,
)
from mlmax.pipeline.execute import execute
from mlmax.pipeline.inputs import DataSpec, InputDataError, stage_inputs, validate_data_file
from mlmax.pipeline.run_dirs import new_run_dir, prepare_run_dir
from mlmax.pipeline.run_record import RunRecord, StepRecord, load_record

__all__ = [
    "MODEL_TYPES",
    "NEW_DATA",
    "TRAIN_DATA",
    "DataSpec",
    "InputDataError",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineInput",
    "Ref",
    "RunRecord",
    "Step",
    "StepRecord",
    "TrainingOptions",
    "census_pipeline",
    "execute",
    "load_record",
    "new_run_dir",
    "prepare_run_dir",
    "run_census",
    "stage_inputs",
    "validate_data_file",
]

"""The runner-agnostic pipeline: its definition, its execution and its run directory."""

from .definition import Pipeline as Pipeline
from .definition import PipelineDefinitionError as PipelineDefinitionError
from .definition import PipelineInput as PipelineInput
from .definition import QualityGate as QualityGate
from .definition import Ref as Ref
from .definition import Step as Step
from .execute import MetricsReader as MetricsReader
from .execute import ReportWriter as ReportWriter
from .execute import StepListener as StepListener
from .execute import run_pipeline as run_pipeline
from .killed import killed_runs as killed_runs
from .killed import mark_killed as mark_killed
from .run_dirs import DEFAULT_RUNS_DIR as DEFAULT_RUNS_DIR
from .run_dirs import new_run_dir as new_run_dir
from .run_dirs import prepare_run_dir as prepare_run_dir
from .run_record import RECORD_FILE as RECORD_FILE
from .run_record import RunRecord as RunRecord
from .run_record import StepRecord as StepRecord
from .run_record import load_record as load_record

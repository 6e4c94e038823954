"""The census sample's pipeline: its DAG and options, its data, metrics, run and endpoint check."""

from .definition import MODEL_TYPES as MODEL_TYPES
from .definition import NEW_DATA as NEW_DATA
from .definition import ROC_AUC_GATE as ROC_AUC_GATE
from .definition import TRAIN_DATA as TRAIN_DATA
from .definition import TrainingOptions as TrainingOptions
from .definition import census_pipeline as census_pipeline
from .endpoint_step import run_endpoint_step as run_endpoint_step
from .inputs import DEFAULT_NEW_DATA_DRIFT as DEFAULT_NEW_DATA_DRIFT
from .inputs import DataSpec as DataSpec
from .inputs import InputDataError as InputDataError
from .inputs import stage_inputs as stage_inputs
from .inputs import validate_data_file as validate_data_file
from .metrics import headline as headline
from .metrics import step_metrics as step_metrics
from .run import run_census as run_census
from .served import latest_trained_run as latest_trained_run
from .served import served_model_dirs as served_model_dirs

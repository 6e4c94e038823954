"""The SageMaker SDK in Local Mode: the offline session, a job as SDK objects, and every hook
mlmax puts on the SDK (each internal it relies on pinned in `internals`)."""

from .environ import scoped_environ as scoped_environ
from .hooks import install_sdk_hooks as install_sdk_hooks
from .internals import DEBUG_PROCESSOR_RUNS as DEBUG_PROCESSOR_RUNS
from .internals import DEBUG_TRAINER_TRAIN as DEBUG_TRAINER_TRAIN
from .internals import PIPELINE_STEP_EXECUTION as PIPELINE_STEP_EXECUTION
from .internals import PIPELINE_STEP_REQUEST as PIPELINE_STEP_REQUEST
from .internals import UNIQUE_NAME as UNIQUE_NAME
from .internals import latest_training_job_name as latest_training_job_name
from .internals import patched as patched
from .internals import pipeline_executor_logger as pipeline_executor_logger
from .internals import release_trainer_temp_dir as release_trainer_temp_dir
from .internals import role_from_sdk_config as role_from_sdk_config
from .internals import role_validation_error as role_validation_error
from .internals import step_call_arguments as step_call_arguments
from .job_objects import ProcessingStep as ProcessingStep
from .job_objects import TrainingStep as TrainingStep
from .job_objects import processing_step as processing_step
from .job_objects import training_step as training_step
from .output import sdk_output_to as sdk_output_to
from .serving_hooks import forget_endpoint as forget_endpoint
from .serving_hooks import manage_endpoint as manage_endpoint
from .serving_hooks import register_ready_waiter as register_ready_waiter
from .session import TEMP_PREFIX as TEMP_PREFIX
from .session import WORK_DIR_ENV as WORK_DIR_ENV
from .session import OfflineSession as OfflineSession
from .session import preload_sdk as preload_sdk
from .session import read_owner_marker as read_owner_marker
from .session import real_s3_requested as real_s3_requested
from .session import remove_tree as remove_tree
from .session import remove_tree_or_warn as remove_tree_or_warn
from .session import work_dir as work_dir
from .speedups import import_sdk as import_sdk
from .thread import UNWIND_SECONDS as UNWIND_SECONDS
from .thread import SdkThread as SdkThread
from .trainer_hook import extra_service_config as extra_service_config

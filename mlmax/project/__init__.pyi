"""A project's jobs: their declarations in pyproject.toml and the catalogue."""

from .catalog import JOBS as JOBS
from .catalog import JOBS_DIR as JOBS_DIR
from .catalog import PROCESSING_CODE_ROOT as PROCESSING_CODE_ROOT
from .catalog import TRAINING_CODE_ROOT as TRAINING_CODE_ROOT
from .catalog import Channel as Channel
from .catalog import JobDefinition as JobDefinition
from .catalog import JobRun as JobRun
from .catalog import get_job as get_job
from .declarations import DeclarationError as DeclarationError
from .declarations import Project as Project
from .declarations import current_project as current_project
from .declarations import load_project as load_project
from .endpoint_definition import EndpointDefinition as EndpointDefinition
from .job_definition import JOB_ENVIRONMENT as JOB_ENVIRONMENT
from .job_definition import base_job_name as base_job_name
from .memory import MemoryLimit as MemoryLimit
from .memory import MemorySizeError as MemorySizeError
from .memory import describe_memory as describe_memory
from .memory import instance_memory as instance_memory
from .memory import job_memory_limit as job_memory_limit
from .memory import parse_memory as parse_memory
from .runner_contract import Runner as Runner
from .runner_contract import RunnerUnavailableError as RunnerUnavailableError
from .runner_contract import StepFailed as StepFailed
from .runner_contract import StepResult as StepResult

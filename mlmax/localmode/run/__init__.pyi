"""One run's lifecycle in Local Mode: a job in its container, what a series of runs shares, a
job under a debugger, and the reaper of what dead sessions left."""

from .container_run import run_job as run_job
from .debug_run import DebugPolicy as DebugPolicy
from .debug_run import JobDebugging as JobDebugging
from .debug_run import debug_job as debug_job
from .debug_run import debugging_runner as debugging_runner
from .debug_run import job_path_mappings as job_path_mappings
from .debug_run import path_mappings as path_mappings
from .lifecycle import LocalRun as LocalRun
from .local_mode import JobRunner as JobRunner
from .local_mode import LocalMode as LocalMode
from .reaper import Leftover as Leftover
from .reaper import describe_leftovers as describe_leftovers
from .reaper import find_leftovers as find_leftovers
from .reaper import is_swept as is_swept
from .reaper import reap as reap
from .reaper import unjudged_containers as unjudged_containers
from .step_debug import PipelineStep as PipelineStep
from .step_debug import StepPolicy as StepPolicy
from .step_debug import pipeline_step as pipeline_step
from .step_debug import pipeline_steps_under_debugger as pipeline_steps_under_debugger

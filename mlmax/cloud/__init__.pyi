"""Everything mlmax does with managed SageMaker, and the SageMaker Pipeline it exports.

`settings` (the MLMAX_SAGEMAKER_* variables and defaults), `checks` (`mlmax doctor --cloud`),
`runner` + `watch` + `job_code` (the `sagemaker` runner), `pipeline_export` (`mlmax pipeline
export`) and `local_pipeline` (the exported pipeline run by the SDK's local pipeline session).
The SDK objects of a job come from `mlmax.localmode.sdk.job_objects`, shared with Local Mode."""

from .checks import bucket_name_problem as bucket_name_problem
from .checks import cloud_checks as cloud_checks
from .local_pipeline import DEFINITION_FILE as DEFINITION_FILE
from .local_pipeline import EXECUTION_FILE as EXECUTION_FILE
from .local_pipeline import run_local_pipeline_into as run_local_pipeline_into
from .pipeline_export import ExportOptions as ExportOptions
from .pipeline_export import emulated_aws_session as emulated_aws_session
from .pipeline_export import export_pipeline as export_pipeline
from .project_pipeline import PipelineStepFailedError as PipelineStepFailedError
from .project_pipeline import ProjectPipelineRun as ProjectPipelineRun
from .project_pipeline import check_step_name as check_step_name
from .project_pipeline import project_pipeline_session as project_pipeline_session
from .project_pipeline import quiet_sdk as quiet_sdk
from .project_pipeline import run_project_pipeline as run_project_pipeline
from .runner import SageMakerConfigError as SageMakerConfigError
from .runner import SageMakerOptions as SageMakerOptions
from .runner import SageMakerRunner as SageMakerRunner
from .runner import parse_instance_type as parse_instance_type

"""Everything mlmax does with managed SageMaker, and the SageMaker Pipeline it exports.

`settings` (the MLMAX_SAGEMAKER_* variables and defaults), `checks` (`mlmax doctor --cloud`),
`runner` + `watch` + `job_code` (the `sagemaker` runner), `pipeline_export` (`mlmax pipeline
export`), `project_pipeline` (any SageMaker Pipeline run by the SDK's local pipeline session
offline: a project's own, `mlmax pipeline run`) and `local_pipeline` (the exported census
pipeline, run that same way).
The SDK objects of a job come from `mlmax.localmode.sdk.job_objects`, shared with Local Mode."""

import lazy_loader

# The face: what other packages use, declared in __init__.pyi; each name is imported
# on first use, so a command pays only for the modules it touches.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

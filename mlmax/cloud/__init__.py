"""Everything mlmax does with managed SageMaker, and the SageMaker Pipeline it exports.

`settings` (the MLMAX_SAGEMAKER_* variables and defaults), `checks` (`mlmax doctor --cloud`),
`runner` + `watch` + `job_code` (the `sagemaker` runner), `pipeline_export` (`mlmax pipeline
export`) and `local_pipeline` (the exported pipeline run by the SDK's local pipeline session).
The SDK objects of a job come from `mlmax.localmode.sdk.job_objects`, shared with Local Mode.
"""

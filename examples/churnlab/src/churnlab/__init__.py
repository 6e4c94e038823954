"""churnlab: churn jobs for SageMaker (an example project using mlmax)."""

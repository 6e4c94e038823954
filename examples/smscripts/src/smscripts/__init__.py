"""Word counts and a forest, written for SageMaker's containers."""

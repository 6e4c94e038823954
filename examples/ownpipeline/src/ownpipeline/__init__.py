"""A SageMaker Pipeline: split raw measurements into a training set, then fit a classifier."""

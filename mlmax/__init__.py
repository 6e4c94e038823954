"""mlmax: test and debug SageMaker ML jobs on your own machine, in their own container."""

__version__ = "0.1.0"

"""The host side of SageMaker Local Mode: the job image, Docker checks and the offline runs."""

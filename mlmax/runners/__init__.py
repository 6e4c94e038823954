"""Runners turn one catalogue job run (a JobRun) into a real execution somewhere."""

from __future__ import annotations

from collections.abc import Mapping

from mlmax.common import Progress
from mlmax.project import Runner, RunnerUnavailableError, StepFailed, StepResult

RUNNER_NAMES = ("local", "host", "sagemaker")


def make_runner(
    name: str,
    *,
    progress: Progress | None = None,
    instance_types: Mapping[str, str] | None = None,
    memory: str | None = None,
) -> Runner:
    """A fresh runner by name (use it as a context manager). `instance_types` (job name ->
    `ml.*` type) is the sagemaker runner's; jobs not named get the defaults by kind.
    `memory` ("2g") is the local runner's limit of every job's container."""
    if name == "host":
        from mlmax.runners.host import HostRunner

        return HostRunner()
    if name == "local":
        # Imported lazily: Local Mode pulls in the SageMaker SDK and Docker, which the host
        # runner never needs.
        from mlmax.runners.local import LocalModeRunner

        return LocalModeRunner(progress=progress, memory=memory)
    if name == "sagemaker":
        # Managed SageMaker; role, bucket and image from MLMAX_SAGEMAKER_* or the SDK config.
        from mlmax.cloud import SageMakerOptions, SageMakerRunner

        options = SageMakerOptions.from_environment(instance_types=dict(instance_types or {}))
        return SageMakerRunner(options, progress=progress)
    raise ValueError(f"unknown runner {name!r}; choose one of: {', '.join(RUNNER_NAMES)}")


__all__ = [
    "RUNNER_NAMES",
    "Runner",
    "RunnerUnavailableError",
    "StepFailed",
    "StepResult",
    "make_runner",
]

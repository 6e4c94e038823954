"""The catalogue of jobs: which script, which kind of SageMaker job, which channels.

The census sample's jobs are declared in its own `jobs.toml`; a project declares its own in its
pyproject.toml (`[tool.mlmax.jobs.<name>]`, read by `mlmax.project.declarations`).

This is the one place that knows how a job's directories map to its command-line arguments
(host runner) and to container paths (Local Mode and SageMaker runners). The jobs themselves
only know their arguments and defaults (see docs/job-contract.md); runners only know this
catalogue, so a new runner never needs to touch a job script.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlmax.project.endpoint_definition import EndpointDefinition

# The job types live in their own module (declarations builds them too); they are part of
# the catalogue's interface, so importers keep one place to look jobs and their types up.
from mlmax.project.job_definition import (
    JOBS_DIR,
    PROCESSING_CODE_ROOT,
    TRAINING_CODE_ROOT,
    Channel,
    JobDefinition,
    JobKind,
)

if TYPE_CHECKING:
    from mlmax.project.declarations import Project

__all__ = [
    "JOBS",
    "JOBS_DIR",
    "PROCESSING_CODE_ROOT",
    "SAMPLE_ENDPOINT",
    "TRAINING_CODE_ROOT",
    "Channel",
    "JobDefinition",
    "JobKind",
    "JobRun",
    "get_job",
    "known_jobs",
]


def _sample_project() -> Project:
    """The census sample's declarations: its `jobs.toml`, read as any project's pyproject.toml
    is."""
    from mlmax.project.declarations import parse_settings
    from mlmax.project.sample import SAMPLE_DECLARATIONS

    source = SAMPLE_DECLARATIONS
    settings = tomllib.loads(source.read_text(encoding="utf-8"))["tool"]["mlmax"]
    return parse_settings(settings, base=source.parent, project="mlmax", source=source)


_SAMPLE = _sample_project()
JOBS: dict[str, JobDefinition] = _SAMPLE.jobs
# The sample's endpoint: what `mlmax serve` and `sm_endpoint` serve when no endpoint is named.
SAMPLE_ENDPOINT: EndpointDefinition = _SAMPLE.endpoint("census")


@dataclass(frozen=True)
class JobRun:
    """One run of a job: the job, host directories for its channels, extra arguments."""

    job: JobDefinition
    inputs: dict[str, Path]
    outputs: dict[str, Path]
    arguments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.inputs:
            self.job.input(name)
        for name in self.outputs:
            self.job.output(name)

    @property
    def all_arguments(self) -> list[str]:
        """The job's default arguments followed by this run's (later ones win in argparse)."""
        return [*self.job.default_arguments, *self.arguments]


def known_jobs(project_root: Path | None = None) -> dict[str, JobDefinition]:
    """mlmax's jobs plus those the project declares (its pyproject.toml at or above
    `project_root`, default the working directory); a project's job shadows mlmax's."""
    from mlmax.project.declarations import current_project

    project = current_project(project_root)
    return {**JOBS, **(project.jobs if project else {})}


def get_job(name: str, project_root: Path | None = None) -> JobDefinition:
    """Look a job up by name, with a clear error listing the known jobs."""
    jobs = known_jobs(project_root)
    try:
        return jobs[name]
    except KeyError:
        known = ", ".join(sorted(jobs))
        raise KeyError(
            f"unknown job {name!r}; choose one of: {known} (or declare it in "
            "[tool.mlmax.jobs] of your pyproject.toml)"
        ) from None

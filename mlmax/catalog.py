"""The catalogue of jobs: which script, which kind of SageMaker job, which channels.

mlmax's own jobs are declared in `jobs.toml`; a project declares its own in its
pyproject.toml (`[tool.mlmax.jobs.<name>]`, read by `mlmax.declarations`).

This is the one place that knows how a job's directories map to its command-line arguments
(host runner) and to container paths (Local Mode and SageMaker runners). The jobs themselves
only know their arguments and defaults (see docs/job-contract.md); runners only know this
catalogue, so a new runner never needs to touch a job script.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

JOBS_DIR = Path(__file__).resolve().parent / "jobs"

# Where SageMaker puts the code of each kind of job inside the container. A debugger needs
# these to map container paths back to workspace files.
PROCESSING_CODE_ROOT = "/opt/ml/processing/input/code"
TRAINING_CODE_ROOT = "/opt/ml/input/data/code"

JobKind = Literal["processing", "training"]


@dataclass(frozen=True)
class Channel:
    """One input or output directory of a job."""

    name: str
    argument: str  # the job's command-line option for this directory, e.g. "--train-dir"
    container_path: str  # where SageMaker mounts it; also the job's default for `argument`
    # Declared `optional = true`: a run may leave it out (an output may stay empty).
    optional: bool = False


@dataclass(frozen=True)
class JobDefinition:
    """A job script and the directories it reads and writes."""

    name: str
    script: str
    kind: JobKind
    inputs: tuple[Channel, ...]
    outputs: tuple[Channel, ...]
    # Arguments every run of this job gets unless overridden (e.g. preprocessing's mode).
    default_arguments: tuple[str, ...] = field(default_factory=tuple)
    # The folder shipped into the container as the job's code; `script` is relative to it.
    source_dir: Path = JOBS_DIR
    # The job's own image: a tag already in the engine, or a requirements file to build one.
    image: str | None = None
    requirements: Path | None = None
    project: str = "mlmax"

    @property
    def script_path(self) -> Path:
        return self.source_dir / self.script

    @property
    def code_root(self) -> str:
        return TRAINING_CODE_ROOT if self.kind == "training" else PROCESSING_CODE_ROOT

    def input(self, name: str) -> Channel:
        return _find(self.inputs, name, self.name, "input")

    def output(self, name: str) -> Channel:
        return _find(self.outputs, name, self.name, "output")


def _find(channels: tuple[Channel, ...], name: str, job: str, what: str) -> Channel:
    for channel in channels:
        if channel.name == name:
            return channel
    known = ", ".join(c.name for c in channels) or "none"
    raise KeyError(f"job {job!r} has no {what} channel {name!r} (known: {known})")


def _builtin_jobs() -> dict[str, JobDefinition]:
    """mlmax's own catalogue: `jobs.toml`, read as any project's pyproject.toml is."""
    from mlmax.declarations import parse_settings

    source = Path(__file__).resolve().parent / "jobs.toml"
    settings = tomllib.loads(source.read_text(encoding="utf-8"))["tool"]["mlmax"]
    return parse_settings(settings, base=source.parent, project="mlmax", source=source).jobs


JOBS: dict[str, JobDefinition] = _builtin_jobs()


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
    from mlmax.declarations import current_project

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

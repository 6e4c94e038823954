"""What a job is: its script, its kind of SageMaker job and its input and output channels.

Only the types: `mlmax.project.catalog` looks jobs up and `mlmax.project.declarations` reads
them from a pyproject.toml; both build on these, so neither needs the other to say what a job is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlmax.project.sample import JOBS_DIR

# Where SageMaker puts the code of each kind of job inside the container. A debugger needs
# these to map container paths back to workspace files.
PROCESSING_CODE_ROOT = "/opt/ml/processing/input/code"
TRAINING_CODE_ROOT = "/opt/ml/input/data/code"

JobKind = Literal["processing", "training"]

# Every job gets these, in its container and on the host: no .pyc files written into a
# bind-mounted source folder, unbuffered output so a crash's last lines reach the log.
JOB_ENVIRONMENT = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


def base_job_name(job_name: str) -> str:
    """What the SageMaker name of each run of a job starts with; the SDK or the runner adds
    a timestamp or an id. SageMaker job names allow [a-zA-Z0-9-]: keep them short."""
    return "mlmax-" + "".join(c if c.isalnum() else "-" for c in job_name)[:30]


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
    # The SageMaker instance type it runs on (`ml.m5.large`); Local Mode limits its memory.
    instance_type: str | None = None

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

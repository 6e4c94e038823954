"""The catalogue of jobs: which script, which kind of SageMaker job, which channels.

This is the one place that knows how a job's directories map to its command-line arguments
(host runner) and to container paths (Local Mode and SageMaker runners). The jobs themselves
only know their arguments and defaults (see docs/job-contract.md); runners only know this
catalogue, so a new runner never needs to touch a job script.
"""

from __future__ import annotations

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

    @property
    def script_path(self) -> Path:
        return JOBS_DIR / self.script

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


def _processing(name: str, arg: str, subdir: str) -> Channel:
    return Channel(name, arg, f"/opt/ml/processing/{subdir}")


def _training_input(name: str) -> Channel:
    return Channel(name, f"--{name}-dir", f"/opt/ml/input/data/{name}")


JOBS: dict[str, JobDefinition] = {
    job.name: job
    for job in (
        JobDefinition(
            name="preprocessing",
            script="preprocessing.py",
            kind="processing",
            inputs=(_processing("data", "--input-dir", "input/data"),),
            outputs=(
                _processing("train", "--train-dir", "train"),
                _processing("test", "--test-dir", "test"),
                _processing("proc_model", "--model-dir", "model"),
            ),
            default_arguments=("--mode", "train"),
        ),
        JobDefinition(
            name="preprocessing-infer",
            script="preprocessing.py",
            kind="processing",
            inputs=(
                _processing("data", "--input-dir", "input/data"),
                _processing("proc_model", "--proc-model-dir", "proc_model"),
            ),
            outputs=(
                _processing("features", "--output-dir", "output"),
                _processing("labels", "--labels-dir", "labels"),
            ),
            default_arguments=("--mode", "infer"),
        ),
        JobDefinition(
            name="train",
            script="train.py",
            kind="training",
            inputs=(_training_input("train"), _training_input("test")),
            # The model directory is SM_MODEL_DIR; Local Mode packs it as model.tar.gz.
            outputs=(Channel("model", "--model-dir", "/opt/ml/model"),),
        ),
        JobDefinition(
            name="evaluation",
            script="evaluation.py",
            kind="processing",
            inputs=(
                _processing("model", "--model-dir", "model"),
                _processing("test", "--test-dir", "test"),
            ),
            outputs=(_processing("evaluation", "--output-dir", "evaluation"),),
        ),
        JobDefinition(
            name="inference",
            script="inference.py",
            kind="processing",
            inputs=(
                _processing("model", "--model-dir", "model"),
                _processing("data", "--input-dir", "input/data"),
            ),
            outputs=(_processing("predictions", "--output-dir", "output"),),
        ),
        JobDefinition(
            name="monitoring",
            script="monitoring.py",
            kind="processing",
            inputs=(
                _processing("baseline", "--baseline-dir", "baseline"),
                _processing("data", "--input-dir", "input/data"),
            ),
            outputs=(_processing("monitoring", "--output-dir", "monitoring"),),
        ),
    )
}


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


def get_job(name: str) -> JobDefinition:
    """Look a job up by name, with a clear error listing the known jobs."""
    try:
        return JOBS[name]
    except KeyError:
        known = ", ".join(sorted(JOBS))
        raise KeyError(f"unknown job {name!r}; choose one of: {known}") from None

"""The data a census run starts from: generated sample data or a user's file, checked early.

A user's file is validated on the host with the jobs' own reader before anything runs, so a
missing column is reported in a second instead of from inside a container minutes later.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlmax.common import UsageError
from mlmax_census.pipeline.definition import NEW_DATA, TRAIN_DATA

# The generator's "strongly drifted" population: a few features cross the PSI threshold, so
# the drift chart shows monitoring at work; the model still scores the batch sensibly.
DEFAULT_NEW_DATA_DRIFT = 1.0
INPUTS_DIR = "inputs"


class InputDataError(UsageError, ValueError):
    """A user-supplied data file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class DataSpec:
    """Where a run's data comes from: files, or the generator with rows/seed/drift."""

    rows: int = 5000
    seed: int = 42
    train_file: Path | None = None
    new_data_file: Path | None = None
    new_data_drift: float = DEFAULT_NEW_DATA_DRIFT

    def describe(self) -> dict[str, object]:
        return {
            TRAIN_DATA: str(self.train_file)
            if self.train_file
            else f"generated: {self.rows} rows, seed {self.seed}",
            NEW_DATA: str(self.new_data_file)
            if self.new_data_file
            else (
                f"same file as {TRAIN_DATA}"
                if self.train_file
                else f"generated: {self.rows} rows, seed {self.seed + 1}, "
                f"drift {self.new_data_drift}"
            ),
        }


def validate_data_file(path: Path, *, labels_required: bool) -> None:
    """Raise InputDataError unless `path` is census data the jobs can read."""
    if not path.exists():
        raise InputDataError(f"input file {path} does not exist; pass the path of a CSV file")
    if not path.is_file():
        raise InputDataError(f"input {path} is not a file; pass the path of a CSV file")
    # Imported here: the jobs' stack (pandas, joblib) would cost every `mlmax` command a
    # second of start-up otherwise.
    from mlmax_census.jobs.csv_input import read_census
    from mlmax_census.jobs.jobs_common import DEFAULT_CHUNK_ROWS, JobInputError
    from mlmax_census.jobs.preprocessing import check_trainable

    try:
        # In chunks, as the jobs read it: the raw text of a large file is never held whole.
        label = "required" if labels_required else "optional"
        data = read_census(path, label=label, chunk_rows=DEFAULT_CHUNK_ROWS)
        if labels_required:  # training data: the preprocessing job's own checks, on the host
            check_trainable(data)
    except JobInputError as error:
        message = str(error) if str(path) in str(error) else f"{path}: {error}"
        raise InputDataError(message) from None


def stage_inputs(run_dir: Path, spec: DataSpec) -> dict[str, Path]:
    """Validate or generate the run's data under `run_dir/inputs/<name>/`; return the dirs.

    Each pipeline input becomes a directory holding one data file, because that is what a
    SageMaker channel is (and what Local Mode mounts).
    """
    if spec.train_file is not None:
        validate_data_file(spec.train_file, labels_required=True)
    if spec.new_data_file is not None:
        validate_data_file(spec.new_data_file, labels_required=False)
    directories = {name: run_dir / INPUTS_DIR / name for name in (TRAIN_DATA, NEW_DATA)}
    for directory in directories.values():
        directory.mkdir(parents=True, exist_ok=True)
    train_dir, new_dir = directories[TRAIN_DATA], directories[NEW_DATA]
    if spec.train_file is not None:
        _copy(spec.train_file, train_dir)
    else:
        _generate(train_dir / "train.csv", spec.rows, spec.seed, 0.0)
    if spec.new_data_file is not None:
        _copy(spec.new_data_file, new_dir)
    elif spec.train_file is not None:
        # With the user's own data and no new batch, score and monitor the same file: a
        # generated batch would not share the user's distribution. A hard link, so the run
        # directory holds the file once (jobs only read their inputs).
        _link_or_copy(train_dir / spec.train_file.name, new_dir)
    else:
        _generate(new_dir / "new_data.csv", spec.rows, spec.seed + 1, spec.new_data_drift)
    return directories


def _copy(source: Path, directory: Path) -> None:
    # Keep the suffix: the jobs read .csv files and the KDD extract's .data files.
    shutil.copyfile(source, directory / source.name)


def _link_or_copy(source: Path, directory: Path) -> None:
    try:
        os.link(source, directory / source.name)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, directory / source.name)


def _generate(path: Path, rows: int, seed: int, drift: float) -> None:
    from mlmax_census.data.generator import write_csv

    write_csv(path, rows, seed, drift)

"""Shared data for the job tests: made once per session in pytest's temporary directory."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mlmax_census.data import write_csv
from mlmax_census.jobs import preprocessing, train


@pytest.fixture(scope="session")
def raw_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated census CSV of 4,000 rows."""
    return write_csv(tmp_path_factory.mktemp("raw") / "census.csv", rows=4000, seed=3)


@pytest.fixture(scope="session")
def prepared(raw_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Output directories of a preprocessing run in train mode on `raw_csv`."""
    root = tmp_path_factory.mktemp("prepared")
    dirs = SimpleNamespace(train=root / "train", test=root / "test", proc_model=root / "model")
    preprocessing.main(
        preprocessing.parse_args(
            [
                "--input-dir", str(raw_csv),
                "--train-dir", str(dirs.train),
                "--test-dir", str(dirs.test),
                "--model-dir", str(dirs.proc_model),
            ]
        )
    )  # fmt: skip
    return dirs


@pytest.fixture(scope="session")
def model_dir(prepared: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding model.joblib: logistic regression trained on `prepared`."""
    directory = tmp_path_factory.mktemp("model")
    train.main(
        train.parse_args(
            ["--train-dir", str(prepared.train), "--test-dir", str(prepared.test),
             "--model-dir", str(directory)]
        )
    )  # fmt: skip
    return directory

"""A small model trained on the host from generated data, for serving benchmarks and tests.

The job functions run in-process (no container): the files are the same ones the pipeline's
preprocessing and train jobs write, so an endpoint loads them exactly as it loads a run's.
"""

from __future__ import annotations

from pathlib import Path

from mlmax.common import CENSUS_JOBS, require_extra


def train_sample_model(root: Path, rows: int = 1500, seed: int = 1) -> tuple[Path, Path, Path]:
    """(model dir, preprocessor dir, the raw census CSV it was trained on) under `root`."""
    require_extra("census", "the sample model", CENSUS_JOBS)
    from mlmax_census.data.generator import write_csv
    from mlmax_census.jobs import preprocessing, train

    data = write_csv(root / "census.csv", rows, seed=seed)
    dirs = {name: root / name for name in ("train", "test", "proc_model", "model")}
    preprocessing.main(
        preprocessing.parse_args(
            ["--input-dir", str(data), "--train-dir", str(dirs["train"]),
             "--test-dir", str(dirs["test"]), "--model-dir", str(dirs["proc_model"])]
        )
    )  # fmt: skip
    train.main(
        train.parse_args(
            ["--train-dir", str(dirs["train"]), "--test-dir", str(dirs["test"]),
             "--model-dir", str(dirs["model"])]
        )
    )  # fmt: skip
    return dirs["model"], dirs["proc_model"], data

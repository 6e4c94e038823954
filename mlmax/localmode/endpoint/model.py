"""What an endpoint serves, checked and staged: the census model and its preprocessor, or a
project handler's model directory (whatever its model_fn reads)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlmax.localmode.errors import JobSetupError

MODEL_FILES = ("model.tar.gz", "model.joblib")
PROC_MODEL_FILE = "proc_model.tar.gz"


def model_files(model_dir: Path, proc_model_dir: Path | None = None) -> tuple[Path, Path]:
    """The model file and the preprocessor archive an endpoint serves; JobSetupError naming
    the missing one."""
    model_dir = Path(model_dir)
    proc_dir = Path(proc_model_dir or model_dir)
    model = next((model_dir / n for n in MODEL_FILES if (model_dir / n).is_file()), None)
    if model is None:
        raise JobSetupError(
            f"no {' or '.join(MODEL_FILES)} in {model_dir}; pass the model directory the "
            "train job wrote (runs/<run>/train/model)"
        )
    proc_model = proc_dir / PROC_MODEL_FILE
    if not proc_model.is_file():
        raise JobSetupError(
            f"no {PROC_MODEL_FILE} in {proc_dir}; pass the preprocessing job's model "
            "directory (runs/<run>/preprocessing/proc_model)"
        )
    return model, proc_model


def stage_model(model_dir: Path, proc_model_dir: Path | None, target: Path) -> Path:
    """Copy the model and the preprocessor into `target` (the SDK extracts archives there)."""
    model, proc_model = model_files(model_dir, proc_model_dir)
    target.mkdir(parents=True)
    shutil.copy2(model, target / model.name)
    shutil.copy2(proc_model, target / PROC_MODEL_FILE)
    return target


def stage_model_dir(model_dir: Path, target: Path) -> Path:
    """Copy the files of `model_dir` into `target` (the SDK extracts a model.tar.gz there, as
    SageMaker does); JobSetupError when there is nothing to serve."""
    model_dir = Path(model_dir)
    files = sorted(p for p in model_dir.iterdir() if p.is_file()) if model_dir.is_dir() else []
    if not files:
        what = "is empty" if model_dir.is_dir() else "is not a folder"
        raise JobSetupError(
            f"the model directory {model_dir} {what}; pass the folder the training job wrote "
            "its model to (it holds model.tar.gz or the model's files)"
        )
    shutil.copytree(model_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target

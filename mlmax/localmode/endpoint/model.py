"""What an endpoint serves: the trained model and the preprocessor, checked and staged."""

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

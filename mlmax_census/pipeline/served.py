"""What a census run directory serves: its trained model, and the latest run that has one
(what `mlmax serve` serves by default)."""

from __future__ import annotations

from pathlib import Path

from mlmax.pipeline import DEFAULT_RUNS_DIR

# Where a run directory keeps what an endpoint serves (see mlmax.pipeline's execute.output_dir).
TRAINED_MODEL = Path("train") / "model"
PROC_MODEL = Path("preprocessing") / "proc_model"


def served_model_dirs(run_dir: Path) -> tuple[Path, Path] | None:
    """(model dir, preprocessor dir) of a run that trained a model, else None."""
    model, proc_model = run_dir / TRAINED_MODEL, run_dir / PROC_MODEL
    # Local Mode packs the model (model.tar.gz); the host runner leaves model.joblib.
    packed = any((model / name).is_file() for name in ("model.tar.gz", "model.joblib"))
    if packed and (proc_model / "proc_model.tar.gz").is_file():
        return model, proc_model
    return None


def latest_trained_run(base: Path = DEFAULT_RUNS_DIR) -> Path | None:
    """The newest run directory under `base` (names sort by time) that trained a model."""
    if not base.is_dir():
        return None
    runs = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    return next((run for run in runs if served_model_dirs(run) is not None), None)

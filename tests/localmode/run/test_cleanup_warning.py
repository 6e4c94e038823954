"""A clean-up that fails after a job succeeded is a warning naming the path, never a crash.

Root-owned model files in a non-root user's run directory once made the clean-up in
the runner's `finally` raise, and a training job that had succeeded was reported as failed
(`pipeline.json` stayed "running"). Here the run directory's removal is refused for real
(PermissionError from the filesystem call), around a real training job in its container.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.smlocal


def test_a_trained_model_survives_a_failing_clean_up(
    sm_localmode, preprocessed, tmp_path, monkeypatch, caplog
):
    real_rmtree = shutil.rmtree
    refused: list[Path] = []

    def refuse_the_run_directory(path, *args, **kwargs):
        # Only the runner's own run directory (train-<id>); the SDK's clean-up goes through.
        if Path(path).parent == sm_localmode.session.root and Path(path).name.startswith("train-"):
            refused.append(Path(path))
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr("mlmax.localmode.sdk.session.shutil.rmtree", refuse_the_run_directory)
    with caplog.at_level(logging.WARNING, logger="mlmax.localmode.sdk.session"):
        result = sm_localmode.run(
            "train",
            inputs={"train": preprocessed.dirs["train"], "test": preprocessed.dirs["test"]},
            outputs={"model": tmp_path / "model"},
            arguments=["--seed", "7"],
        )
    monkeypatch.undo()
    assert result.exit_code == 0
    with tarfile.open(tmp_path / "model" / "model.tar.gz") as archive:
        assert "model.joblib" in archive.getnames()
    [run_dir] = refused
    assert any(f"could not remove {run_dir}" in r.getMessage() for r in caplog.records)
    real_rmtree(run_dir)

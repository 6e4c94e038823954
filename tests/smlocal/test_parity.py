"""Container and host give identical results for the same inputs, arguments and seed.

The container side comes from the chained container runs; the host side runs the same
script as `python mlmax/jobs/<script> ...` with the same arguments on the same inputs.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from mlmax.catalog import JobRun, get_job
from mlmax.runners.host import _job_environment, job_command
from tests.smlocal.conftest import SEED

pytestmark = pytest.mark.smlocal


def run_on_host(job: str, inputs: dict, outputs: dict, arguments=(), cwd: Path | None = None):
    step = JobRun(get_job(job), inputs=inputs, outputs=outputs, arguments=tuple(arguments))
    completed = subprocess.run(
        job_command(step),
        capture_output=True,
        text=True,
        env=_job_environment(),
        cwd=cwd,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_preprocessing_same_split_and_features(preprocessed, data_dir, tmp_path):
    host = {name: tmp_path / name for name in ("train", "test", "proc_model")}
    run_on_host("preprocessing", {"data": data_dir / "raw"}, host, ["--seed", str(SEED)], tmp_path)
    for name, filename in [
        ("train", "train_features.csv"),
        ("train", "train_labels.csv"),
        ("test", "test_features.csv"),
        ("test", "test_labels.csv"),
    ]:
        container_bytes = (preprocessed.dirs[name] / filename).read_bytes()
        assert (host[name] / filename).read_bytes() == container_bytes, filename


def test_training_same_metrics(trained, preprocessed, tmp_path):
    stdout = run_on_host(
        "train",
        {"train": preprocessed.dirs["train"], "test": preprocessed.dirs["test"]},
        {"model": tmp_path / "model"},
        ["--seed", str(SEED), "--c", "0.5"],
        tmp_path,
    )
    pattern = r"metric (\w+)=([0-9.]+)"
    host_metrics = dict(re.findall(pattern, stdout))
    assert host_metrics, stdout
    assert dict(re.findall(pattern, trained.result.logs)) == host_metrics


def test_evaluation_same_report(evaluated, trained, preprocessed, tmp_path):
    run_on_host(
        "evaluation",
        {"model": trained.dirs["model"], "test": preprocessed.dirs["test"]},
        {"evaluation": tmp_path / "evaluation"},
        cwd=tmp_path,
    )
    host = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    container = json.loads((evaluated.dirs["evaluation"] / "evaluation.json").read_text())
    assert host == container


def test_inference_same_predictions(predicted, trained, infer_features, tmp_path):
    features = infer_features.dirs["features"]
    run_on_host(
        "inference",
        {"model": trained.dirs["model"], "data": features},
        {"predictions": tmp_path / "predictions"},
        cwd=tmp_path,
    )
    host = (tmp_path / "predictions" / "predictions.csv").read_bytes()
    assert host == (predicted.dirs["predictions"] / "predictions.csv").read_bytes()


def test_monitoring_same_drift_report(monitored_drift, data_dir, tmp_path):
    run_on_host(
        "monitoring",
        {"baseline": data_dir / "raw", "data": data_dir / "new"},
        {"monitoring": tmp_path / "monitoring"},
        cwd=tmp_path,
    )
    for filename in ("drift.json", "baseline.json"):
        host = json.loads((tmp_path / "monitoring" / filename).read_text())
        container = json.loads((monitored_drift.dirs["monitoring"] / filename).read_text())
        assert host == container, filename

"""`mlmax pipeline run MODULE:FUNCTION`: the example project's own Pipeline from the command line.

Runs a copy of examples/ownpipeline through the real command (its own process, real
containers); a MODULE:FUNCTION that cannot be used is one sentence and exit code 2 before
any container work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ownpipeline"
ROLE = "arn:aws:iam::000000000000:role/ownpipeline-local"


def _mlmax(project: Path, *args: str, image: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        PYTHONPATH=str(project / "src"),
        PYTHONDONTWRITEBYTECODE="1",
        OWNPIPELINE_IMAGE=image,
        OWNPIPELINE_ROLE=ROLE,
    )
    return subprocess.run(
        [sys.executable, "-m", "mlmax", "pipeline", "run", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "ownpipeline"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.mark.parametrize(
    ("target", "sentence"),
    [
        ("ownpipeline", "'ownpipeline' is not MODULE:FUNCTION; name the function"),
        ("nosuch.module:build", "module 'nosuch.module' was not found; run from your project"),
        ("ownpipeline.pipeline:nobuild", "module 'ownpipeline.pipeline' has no function"),
    ],
)
def test_a_bad_target_is_one_sentence_and_exit_2(project: Path, target: str, sentence: str):
    done = _mlmax(project, target)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {sentence}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


@pytest.mark.smlocal
def test_the_projects_pipeline_runs_and_prints_its_steps(project: Path, sm_image: str):
    done = _mlmax(project, "ownpipeline.pipeline:build", "--parameter", "InstanceType=local",
                  image=sm_image)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines()]
    assert [row[:2] for row in rows if row and row[0] in ("Preprocess", "Train", "total")] == [
        ["Preprocess", "Succeeded"],
        ["Train", "Succeeded"],
        ["total", "Succeeded"],
    ]
    assert "[pipeline] Starting pipeline step: 'Train'" in done.stderr


@pytest.mark.smlocal
def test_a_failing_step_exits_1_with_its_sentence_and_log(project: Path, sm_image: str):
    done = _mlmax(project, "ownpipeline.pipeline:build", "--parameter", "InstanceType=local",
                  "--parameter", "MinRows=100", image=sm_image)  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert "error: step 'Preprocess' of pipeline 'ownpipeline' failed: " in done.stderr
    assert "only 60 rows in /opt/ml/processing/input, fewer than 100" in done.stderr
    assert ["Preprocess", "Failed"] in [line.split()[:2] for line in done.stdout.splitlines()]
    assert "Train" not in done.stdout
    assert "Traceback" not in done.stderr.split("error: ")[-1]

"""A project's own SageMaker Pipeline, as examples/ownpipeline builds it, run with mlmax.

A copy of the example project runs its own `pytest --smlocal` (this environment's mlmax, so
its `sm_pipeline_session`): the pipeline's processing step feeds its training step in their
containers, offline. A test added to the copy fails through a failing step: its report names
the step, its reason and the log tail of its container, and no container of it is left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from mlmax.localmode.engine import docker_client
from tests.support.inner_pytest import isolate

pytestmark = pytest.mark.smlocal

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ownpipeline"
_LEAKY = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTHONPATH")

FAILING_TEST = """
import pytest
from ownpipeline.pipeline import build

@pytest.mark.smlocal
def {name}(sm_pipeline_session, sm_image):
    pipeline = build(sm_pipeline_session, image=sm_image, role="arn:aws:iam::0:role/x")
    sm_pipeline_session.run(pipeline, {{"InstanceType": "local", "MinRows": 500}})
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "ownpipeline"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    isolate(project)
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\npythonpath = src\n")
    return project


def _pytest(project: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Any]:
    report = tmp_path / f"junit-{uuid.uuid4().hex[:6]}.xml"
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--smlocal", "-p", "no:cacheprovider", "-p",
         "no:xdist", f"--junitxml={report}", f"--basetemp={tmp_path / 'run'}", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None, done.stdout[-3000:] + done.stderr[-3000:]
    return done, suite


def test_the_projects_own_pipeline_passes_its_container_tests(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done, suite = _pytest(project, tmp_path)
    counts = tuple(suite.get(k) for k in ("tests", "failures", "errors", "skipped"))
    assert counts == ("2", "0", "0", "0"), done.stdout[-4000:]
    assert "container tests (marker smlocal): 2 passed, 0 failed, 0 skipped" in done.stdout


def test_a_failing_step_fails_the_test_with_its_name_reason_and_log(tmp_path: Path) -> None:
    project = _project(tmp_path)
    name = f"test_fails_{uuid.uuid4().hex[:8]}"
    (project / "tests" / "test_failing.py").write_text(FAILING_TEST.format(name=name))

    done, suite = _pytest(project, tmp_path, f"tests/test_failing.py::{name}")

    assert (suite.get("tests"), suite.get("failures")) == ("1", "1"), done.stdout[-4000:]
    [failure] = suite.iter("failure")
    message = failure.get("message") or ""
    assert message.startswith("step 'Preprocess' of pipeline 'ownpipeline' failed: "), message
    # The log tail of the failed step's container, in the message and in the report's section
    # of the run's (labelled) containers.
    assert "only 60 rows in /opt/ml/processing/input, fewer than 500" in message
    assert "containers of sm_pipeline_session (last lines)" in done.stdout
    left = docker_client().containers.list(
        all=True, ignore_removed=True, filters={"label": f"org.mlmax.job=pipeline:{name}"}
    )
    assert left == []

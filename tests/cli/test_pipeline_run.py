"""`mlmax pipeline run MODULE:FUNCTION`: the example project's own Pipeline from the command line.

Runs a copy of examples/ownpipeline through the real command (its own process, real
containers); a MODULE:FUNCTION that cannot be used is one sentence and exit code 2 before
any container work. `--debug-step STEP` runs that step's script under debugpy: a real DAP
client attaches with the project's own pathMapping and stops at a breakpoint in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.project import TRAINING_CODE_ROOT
from tests.pytest_plugin.test_inspect_mode import _containers_of, _debug_session
from tests.support.inspect_driver import READY, InspectRun, line_of
from tests.support.isolation import assert_debugger_only_on_loopback_forward

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ownpipeline"
ROLE = "arn:aws:iam::000000000000:role/ownpipeline-local"


def _project_environment(project: Path, image: str) -> dict[str, str]:
    return {
        "PYTHONPATH": str(project / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OWNPIPELINE_IMAGE": image,
        "OWNPIPELINE_ROLE": ROLE,
    }


def _mlmax(project: Path, *args: str, image: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(_project_environment(project, image))
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
    assert "Traceback" not in done.stderr


@pytest.mark.smlocal
def test_debug_step_stops_in_the_steps_script_and_the_pipeline_finishes(
    project: Path, sm_image: str
):
    script = project / "src" / "ownpipeline" / "scripts" / "train.py"
    line = line_of(script, "accuracy = float(model.score")
    command = [sys.executable, "-m", "mlmax", "pipeline", "run", "ownpipeline.pipeline:build"]
    args = ["--parameter", "InstanceType=local", "--debug-step", "Train", "--debug-port", "0"]
    environment = _project_environment(project, sm_image)
    with InspectRun(args, command=command, cwd=project, env=environment) as run:
        _, ready = run.wait_for(READY, 600)
        assert (ready["job"], ready["code"]) == ("Train", TRAINING_CODE_ROOT)
        [container] = [c for c in _containers_of(run) if c.status == "running"]
        assert_debugger_only_on_loopback_forward(container)

        mappings = [{"localRoot": str(script.parent), "remoteRoot": ready["code"]}]
        port = int(ready["port"])
        seen = _debug_session(port, script, line, "labels", "features.shape[1]", mappings)
        assert (seen["line"], seen["path"]) == (line, script)
        assert str(seen["variable"]).startswith("array([")  # the label column, read back
        assert seen["expression"] == "2"  # length and width
        assert run.wait(600) == 0, run.output
        assert _containers_of(run) == []
    rows = [line.split() for line in run.output.splitlines()]
    assert [row[:2] for row in rows if row and row[0] in ("Preprocess", "Train", "total")] == [
        ["Preprocess", "Succeeded"],
        ["Train", "Succeeded"],
        ["total", "Succeeded"],
    ]


@pytest.mark.smlocal
def test_debug_step_that_is_no_step_of_the_pipeline_is_one_sentence_and_exit_2(
    project: Path, sm_image: str
):
    done = _mlmax(project, "ownpipeline.pipeline:build", "--debug-step", "Trian", image=sm_image)
    assert done.returncode == 2, done.stderr[-3000:]
    [error] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert error == (
        "error: --debug-step 'Trian' is not a step of pipeline 'ownpipeline'; its steps are "
        "Preprocess, Train"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.smlocal
def test_a_function_of_the_project_that_raises_is_its_own_lines_and_exit_2(
    project: Path, sm_image: str
):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "OWNPIPELINE"))}
    env.update(PYTHONPATH=str(project / "src"), OWNPIPELINE_IMAGE=sm_image)  # no role given
    done = subprocess.run(
        [sys.executable, "-m", "mlmax", "pipeline", "run", "ownpipeline.pipeline:build"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    source = project / "src" / "ownpipeline" / "pipeline.py"
    assert done.stderr.splitlines()[-3:] == [
        "error: ownpipeline.pipeline:build raised KeyError: 'OWNPIPELINE_ROLE'; fix it and run "
        "again",
        f"  src/ownpipeline/pipeline.py:{line_of(source, 'os.environ[ROLE_VARIABLE]')}: in build",
        "    role = role or os.environ[ROLE_VARIABLE]",
    ]
    assert "Traceback" not in done.stderr


def test_a_module_of_the_project_that_fails_to_import_is_its_own_lines_and_exit_2(
    tmp_path: Path,
):
    (tmp_path / "broken.py").write_text("import os\n\nSETTING = os.environ['NO_SUCH_SETTING']\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [sys.executable, "-m", "mlmax", "pipeline", "run", "broken:build"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: importing broken raised KeyError: 'NO_SUCH_SETTING'; fix it and run again",
        "  broken.py:3: in <module>",
        "    SETTING = os.environ['NO_SUCH_SETTING']",
    ]

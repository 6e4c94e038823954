"""Every task and launch configuration, run the way VS Code runs it, succeeds.

Each runs in a fresh copy of the workspace with no .venv, with the suite's interpreter as
the one selected in VS Code, so that what the tasks write (runs/, .pytest_cache, .mlmax/)
never lands in the source tree. A task that runs tests is proven by running its exact
command on a small selection, and its whole command line is checked by collecting what it
selects (collection is fast and needs no Docker). Inside a nested run (a task running the
suite that holds these tests) they skip instead of recursing.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.attach import attach, attach_config, main_entry_lines
from tests.support.taskrun import COLLECT_ONLY, BackgroundTask, collected_ids, run_to_completion
from tests.support.vscode import (
    UNIT_TASK,
    Editor,
    TaskCommand,
    copy_workspace,
    launch_config,
    line_inside,
    nested_run,
    substitute_all,
    task,
    task_command,
)
from tests.support.xdist_groups import DEFAULT_DEBUG_PORT, WHOLE_TREE_COLLECTION

pytestmark = pytest.mark.skipif(
    nested_run(),
    reason="runs the workspace's tasks, and is itself running inside one (nested run)",
)

INSPECT_AT_CURSOR_TASK = "mlmax: inspect the container test at the cursor"
INSPECT_FILE_TASK = "mlmax: inspect the container test in this file"
CONTAINER_TASK = "mlmax: run container tests"
# The small selections the test-running tasks are proven on: one unit test file, and one
# container test (one job).
UNIT_SELECTION = "tests/census/data/test_generator.py"
CONTAINER_FILE = "tests/localmode/run/test_chain.py"
CONTAINER_TEST = "test_preprocessing_splits_generated_data"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "workspace")


def _summary(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return "\n".join(lines[-40:])


def _run(label: str, workspace: Path, timeout: float, *selection: str) -> str:
    """The task's exact command, with `selection` (test paths) appended if given."""
    command = task_command(label, workspace)
    command = TaskCommand([*command.argv, *selection], command.cwd, command.env)
    started = time.monotonic()
    done = run_to_completion(command, timeout=timeout)
    print(f"{label}: exit {done.returncode} in {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, f"task {label!r} failed:\n{_summary(done.stdout)}"
    return done.stdout


def _collected(label: str, workspace: Path) -> set[str]:
    """The test ids the task's whole command line selects (pytest --collect-only)."""
    return set(collected_ids(_run(label, workspace, 600, *COLLECT_ONLY)))


def _pytest_counts(output: str) -> dict[str, int]:
    (last,) = [line for line in output.splitlines() if re.search(r"=+ .* in [\d.]+s", line)][-1:]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last)}


# --- no Docker needed ----------------------------------------------------------------------


def test_unit_tests_task_command_runs_a_selection(workspace: Path) -> None:
    container_test = f"{CONTAINER_FILE}::{CONTAINER_TEST}"
    output = _run(UNIT_TASK, workspace, 600, UNIT_SELECTION, container_test)
    counts = _pytest_counts(output)
    assert counts.get("passed", 0) > 0
    assert counts.get("failed", 0) == 0
    # The container test is reported as skipped, with the reason.
    assert counts.get("skipped", 0) == 1
    assert "need --smlocal option to run" in output


@WHOLE_TREE_COLLECTION
def test_unit_tests_task_command_line_selects_the_whole_suite(
    unit_task_collection: tuple[Path, list[str]],
) -> None:
    workspace, ids = unit_task_collection
    assert task_command(UNIT_TASK, workspace).argv == [sys.executable, "-m", "pytest"]
    selected = set(ids)
    every_test_file = {
        str(path.relative_to(workspace)) for path in (workspace / "tests").rglob("test_*.py")
    }
    assert {test_id.split("::")[0] for test_id in selected} == every_test_file
    assert f"{CONTAINER_FILE}::{CONTAINER_TEST}" in selected


def test_container_tests_task_command_line_selects_the_container_tests(workspace: Path) -> None:
    argv = task_command(CONTAINER_TASK, workspace).argv
    assert argv == [sys.executable, "-m", "pytest", "--smlocal", "-m", "smlocal"]
    selected = _collected(CONTAINER_TASK, workspace)
    # All of the container tests, and no unit test (they carry no marker).
    container_files = {
        CONTAINER_FILE,
        "tests/localmode/run/test_cleanup.py",
        "tests/localmode/endpoint/test_endpoint.py",
    }
    assert container_files <= {test_id.split("::")[0] for test_id in selected}
    assert not any(test_id.startswith(UNIT_SELECTION) for test_id in selected)


def test_host_pipeline_launch_configuration(workspace: Path) -> None:
    """`module` + `args` + `cwd` of the launch configuration, without the debugger."""
    config = substitute_all(launch_config("Run the pipeline on the host (debugger)"), workspace)
    done = subprocess.run(
        # The interpreter VS Code selected: the one running this suite (the copy has no .venv).
        [sys.executable, "-m", config["module"], *config["args"]],
        cwd=config["cwd"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = (workspace / "runs").iterdir()
    assert (run_dir / "pipeline.json").is_file()
    assert list(run_dir.rglob("report.md"))


# --- Docker needed -------------------------------------------------------------------------


@pytest.mark.smlocal
@DEFAULT_DEBUG_PORT  # `mlmax doctor` fails while the port is taken
def test_check_environment_task(workspace: Path) -> None:
    _run("mlmax: check the environment", workspace, timeout=300)


@pytest.mark.smlocal
def test_build_image_task(workspace: Path) -> None:
    _run("mlmax: build the job image", workspace, timeout=1800)


@pytest.mark.smlocal
def test_pipeline_task(workspace: Path) -> None:
    _run("mlmax: run the pipeline", workspace, timeout=1800)
    (run_dir,) = (workspace / "runs").iterdir()
    assert (run_dir / "pipeline.json").is_file()
    assert list(run_dir.rglob("report.md"))


@pytest.mark.smlocal
def test_container_tests_task_command_runs_a_container_test(workspace: Path) -> None:
    output = _run(CONTAINER_TASK, workspace, 900, f"{CONTAINER_FILE}::{CONTAINER_TEST}")
    counts = _pytest_counts(output)
    assert counts.get("passed", 0) == 1
    assert counts.get("failed", 0) == 0
    assert "mlmax: container tests (marker smlocal): 1 passed" in output


def _inspect_and_attach(command_label: str, workspace: Path, editor: Editor) -> None:
    definition = task(command_label)
    background = definition["problemMatcher"]["background"]
    begins = re.compile(background["beginsPattern"])
    ends = re.compile(background["endsPattern"])
    started = time.monotonic()
    with BackgroundTask(task_command(command_label, workspace, editor)) as run:
        run.wait_for(begins, timeout=120)
        ready = run.wait_for(ends, timeout=600)
        ready_s = time.monotonic() - started
        port = int(re.search(r"127\.0\.0\.1:(\d+)", ready).group(1))
        assert port == attach_config(workspace)["connect"]["port"]
        result = attach(workspace, stop_in_main=True, timeout=120)
        code = run.wait_exit(timeout=600)
        print(f"{command_label}: ready after {ready_s:.1f} s; exit {code}")
        assert code == 0, run.output[-6000:]
    jobs = main_entry_lines(workspace / "mlmax_census" / "jobs")
    assert (Path(result.stopped_file), result.stopped_line) in jobs.items()
    assert "args" in result.local_names


@pytest.mark.smlocal
@DEFAULT_DEBUG_PORT
def test_inspect_at_cursor_task_reaches_its_ready_line_and_a_debugger_attaches(
    workspace: Path,
) -> None:
    test_file = workspace / CONTAINER_FILE
    editor = Editor(file=test_file, line=line_inside(test_file, CONTAINER_TEST))
    _inspect_and_attach(INSPECT_AT_CURSOR_TASK, workspace, editor)


@pytest.mark.smlocal
@DEFAULT_DEBUG_PORT
def test_inspect_current_file_task(workspace: Path) -> None:
    _inspect_and_attach(INSPECT_FILE_TASK, workspace, Editor(file=workspace / CONTAINER_FILE))

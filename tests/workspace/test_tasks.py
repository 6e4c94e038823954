"""Every task and launch configuration, run the way VS Code runs it, succeeds.

Each runs in a fresh copy of the workspace (sharing the project's .venv) so that what the
tasks write (runs/, .pytest_cache, .mlmax/) never lands in the source tree. The tasks run
the test suite itself: inside such a nested run these tests skip instead of recursing.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.workspace.attach import attach, attach_config, main_entry_lines
from tests.workspace.taskrun import BackgroundTask, run_to_completion
from tests.workspace.vscode import (
    copy_workspace,
    input_default,
    launch_config,
    nested_run,
    substitute_all,
    task,
    task_command,
)

pytestmark = pytest.mark.skipif(
    nested_run(),
    reason="runs the workspace's tasks, and is itself running inside one (nested run)",
)

INSPECT_TASK = "mlmax: inspect a container test"
INSPECT_FILE_TASK = "mlmax: inspect the container test in this file"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "workspace")


def _summary(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return "\n".join(lines[-40:])


def _run(label: str, workspace: Path, timeout: float) -> str:
    started = time.monotonic()
    done = run_to_completion(task_command(label, workspace), timeout=timeout)
    print(f"{label}: exit {done.returncode} in {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, f"task {label!r} failed:\n{_summary(done.stdout)}"
    return done.stdout


def _pytest_counts(output: str) -> dict[str, int]:
    (last,) = [line for line in output.splitlines() if re.search(r"=+ .* in [\d.]+s", line)][-1:]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last)}


# --- no Docker needed ----------------------------------------------------------------------


def test_unit_tests_task(workspace: Path) -> None:
    output = _run("mlmax: run unit tests", workspace, timeout=1200)
    counts = _pytest_counts(output)
    assert counts.get("passed", 0) > 0
    assert counts.get("failed", 0) == 0
    # The container tests are there, reported as skipped with the reason.
    assert counts.get("skipped", 0) > 0
    assert "--smlocal" in output


def test_host_pipeline_launch_configuration(workspace: Path) -> None:
    """`module` + `args` + `cwd` of the launch configuration, without the debugger."""
    config = substitute_all(launch_config("Run the pipeline on the host (debugger)"), workspace)
    done = subprocess.run(
        [str(workspace / ".venv/bin/python"), "-m", config["module"], *config["args"]],
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
def test_container_tests_task(workspace: Path) -> None:
    output = _run("mlmax: run container tests", workspace, timeout=3600)
    counts = _pytest_counts(output)
    assert counts.get("passed", 0) > 0
    assert counts.get("failed", 0) == 0


def _inspect_and_attach(command_label: str, workspace: Path, file: Path | None) -> None:
    definition = task(command_label)
    background = definition["problemMatcher"]["background"]
    begins = re.compile(background["beginsPattern"])
    ends = re.compile(background["endsPattern"])
    started = time.monotonic()
    with BackgroundTask(task_command(command_label, workspace, file)) as run:
        run.wait_for(begins, timeout=120)
        ready = run.wait_for(ends, timeout=600)
        ready_s = time.monotonic() - started
        port = int(re.search(r"127\.0\.0\.1:(\d+)", ready).group(1))
        assert port == attach_config(workspace)["connect"]["port"]
        result = attach(workspace, stop_in_main=True, timeout=120)
        code = run.wait_exit(timeout=600)
        print(f"{command_label}: ready after {ready_s:.1f} s; exit {code}")
        assert code == 0, run.output[-6000:]
    jobs = main_entry_lines(workspace / "mlmax" / "jobs")
    assert (Path(result.stopped_file), result.stopped_line) in jobs.items()
    assert "args" in result.local_names


@pytest.mark.smlocal
def test_inspect_task_reaches_its_ready_line_and_a_debugger_attaches(workspace: Path) -> None:
    _inspect_and_attach(INSPECT_TASK, workspace, file=None)


@pytest.mark.smlocal
def test_inspect_current_file_task(workspace: Path) -> None:
    test_file = workspace / input_default("containerTest").split("::")[0]
    _inspect_and_attach(INSPECT_FILE_TASK, workspace, file=test_file)

"""The Test Explorer's gestures, with the workspace's own pytest arguments.

VS Code's Python extension passes `python.testing.pytestArgs` to discovery (`pytest
--collect-only <args>`, on every save) and, without their positional paths, to Run (`pytest
<options> <test ids>`, from the tree, the gutter or "Run Tests in Current File"). The
shipped arguments include --smlocal, so Run on a container test runs it in its container;
discovery must still touch no Docker API and build nothing: DOCKER_HOST points at a socket
that counts connections, and none may come.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docker_tripwire import DockerTripwire
from tests.support.taskrun import COLLECT_ONLY, collected_ids
from tests.support.vscode import REPO, copy_workspace, nested_run, settings
from tests.support.xdist_groups import WHOLE_TREE_COLLECTION

COLLECT = [sys.executable, "-m", "pytest", *COLLECT_ONLY]


def run_options() -> list[str]:
    """What the extension keeps of pytestArgs for a Run: the options, not the test paths."""
    args = settings()["python.testing.pytestArgs"]
    # The shipped options are flags: nothing that is not an option is an option's value.
    return [arg for arg in args if arg.startswith("-")]


def _discover(*pytest_args: str, docker_host: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COLLECT, *pytest_args],
        cwd=REPO,
        # Collection writes nothing into the source tree (no .pyc, no cache).
        env={**os.environ, "DOCKER_HOST": docker_host, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@WHOLE_TREE_COLLECTION
def test_discovery_with_the_workspace_arguments_touches_no_docker(
    unit_task_collection: tuple[Path, list[str]],
) -> None:
    workspace_args = settings()["python.testing.pytestArgs"]
    assert "--smlocal" in workspace_args
    with DockerTripwire() as tripwire:
        discovered = _discover(*workspace_args, docker_host=tripwire.docker_host)
    assert discovered.returncode == 0, discovered.stdout + discovered.stderr
    assert tripwire.connections == 0, "discovery connected to the Docker engine"
    # The same tree as plain collection (the unit-tests task's, `python -m pytest`, in a copy
    # of this workspace): unit and container tests alike.
    _, plain = unit_task_collection
    assert collected_ids(discovered.stdout) == plain
    assert any("tests/localmode/run/" in test_id for test_id in plain)


@pytest.mark.smlocal
@pytest.mark.skipif(nested_run(), reason="runs pytest on the workspace inside a nested run")
def test_run_on_a_container_test_runs_it_in_its_container(tmp_path: Path) -> None:
    """Run on one container test, as the extension starts it: settings' options + the id."""
    workspace = copy_workspace(tmp_path / "workspace")
    test_id = "tests/localmode/run/test_chain.py::test_preprocessing_splits_generated_data"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *run_options(), test_id],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"\b1 passed\b", done.stdout.splitlines()[-1]), done.stdout[-2000:]
    assert "mlmax: container tests (marker smlocal): 1 passed, 0 failed, 0 skipped" in done.stdout

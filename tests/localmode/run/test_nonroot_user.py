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
from collections.abc import Iterator
from pathlib import Path

import pytest

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

pytestmark = [pytest.mark.smlocal, LONGEST, OTHER_USER]  # about a minute: started early under xdist

TEMP = Path("/tmp")
LOCALMODE_DIRS = "mlmax-localmode-*"
PIPELINE_ROWS = 1000
PIPELINE_TIMEOUT = 600
CHAIN_TIMEOUT = 900
# The container tests that, run by such a user, once left root's files in their temp dir (the
# dev container's inner runs) or lacked root's certificate settings (the wheel's install).
WORKSPACE_TESTS = (
    "tests/workspace/test_devcontainer.py",
    "tests/project/test_wheel_project.py::test_the_wheel_ships_the_image_assets_and_declarations",
)
WORKSPACE_TIMEOUT = 2400
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


def test_a_docker_user_runs_the_dev_container_and_wheel_tests_and_can_delete_what_is_left(
    docker_user: DockerUser,
):
    run = docker_user.run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--smlocal",
        *WORKSPACE_TESTS, cwd=REPO, timeout=WORKSPACE_TIMEOUT, **SAFE_CHECKOUT,
    )  # fmt: skip
    assert f" {len(WORKSPACE_TESTS)} passed" in run.stdout, run.stdout[-3000:]
    left = TEMP / f"pytest-of-{docker_user.name}"
    removal = docker_user.run("rm", "-rf", str(left), cwd=TEMP, timeout=120, check=False)
    assert removal.returncode == 0, f"{USER} could not delete what its runs left: {removal.stderr}"
    assert not left.exists()

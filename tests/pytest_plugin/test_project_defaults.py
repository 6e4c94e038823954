"""Container tests on by default where the project says so; the summary counts the ones
skipped and names --smlocal; a test's own SDK object without the offline session, and an
SDK v2 environment, each get one sentence naming the fix.

Each case runs pytest in a subprocess on a small project, as a user's run would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.inner_pytest import isolate

INNER = """
import pytest

@pytest.mark.smlocal
def test_in_container():
    pass

@pytest.mark.smlocal
def test_in_container_too():
    pass

def test_plain():
    pass
"""
SKIPPED_LINE = (
    "mlmax: 2 container tests were skipped: run pytest with --smlocal, or set smlocal = true "
    "in [tool.mlmax] of pyproject.toml or in the pytest ini"
)
RAN_LINE = "mlmax: container tests (marker smlocal): 2 passed, 0 failed, 0 skipped"


def _pytest(project: Path, *args: str, source: str = INNER, ini: str = "", env=None):
    isolate(project)
    if ini:
        (project / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    (project / "test_inner.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, "test_inner.py"],
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, **(env or {})},
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_forgetting_smlocal_is_counted_and_named_in_the_summary(tmp_path, workers):
    done = _pytest(tmp_path, *workers)
    assert done.returncode == 0, done.stdout + done.stderr
    assert SKIPPED_LINE in done.stdout, done.stdout


def test_the_pytest_ini_turns_container_tests_on(tmp_path):
    done = _pytest(tmp_path, ini="smlocal = true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert RAN_LINE in done.stdout, done.stdout
    assert "skipped: run pytest with --smlocal" not in done.stdout


def test_the_projects_tool_mlmax_turns_them_on_and_the_ini_can_turn_them_off(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "user-project"\n\n[tool.mlmax]\nsmlocal = true\n'
    )
    on = _pytest(tmp_path)
    assert on.returncode == 0, on.stdout + on.stderr
    assert RAN_LINE in on.stdout, on.stdout
    off = _pytest(tmp_path, "-o", "smlocal=false")
    assert SKIPPED_LINE in off.stdout, off.stdout


# The machine is offline, as mlmax's are: no name outside loopback resolves.
OFFLINE_CONFTEST = """
import socket

_resolve = socket.getaddrinfo


def _offline(host, *args, **kwargs):
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _resolve(host, *args, **kwargs)


socket.getaddrinfo = _offline
"""
OWN_SDK_OBJECT = """
import pytest
from sagemaker.core.processing import ScriptProcessor


@pytest.mark.smlocal
def test_my_processor(tmp_path):
    (tmp_path / "job.py").write_text("print('hello')")
    processor = ScriptProcessor(
        role="arn:aws:iam::111111111111:role/local",
        image_uri="my-image:1",
        command=["python3"],
        instance_type="local",
        instance_count=1,
    )
    processor.run(code=str(tmp_path / "job.py"), wait=False, logs=False)
"""


def test_an_own_sdk_object_without_sm_session_names_it(tmp_path):
    (tmp_path / "conftest.py").write_text(OFFLINE_CONFTEST)
    # Credentials and a region as a developer's shell has them; AWS itself is out of reach.
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = _pytest(tmp_path, "--smlocal", source=OWN_SDK_OBJECT, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "a SageMaker SDK object in this test tried to reach https://sts.us-east-1."
    ) in done.stdout, done.stdout
    assert (
        "(EndpointConnectionError); under --smlocal pass sagemaker_session=sm_session to every "
        "processor, estimator, trainer and model the test builds, so it runs offline in "
        "Local Mode"
    ) in done.stdout, done.stdout
    assert "in test_my_processor" in done.stdout  # where the test asked for it
    assert "botocore/endpoint.py" not in done.stdout  # not the SDK's own frames


def _sdk_v2_site(root: Path, version: str = "2.232.0") -> Path:
    """What `pip install 'sagemaker<3' --no-deps` leaves for the version check: the
    distribution's metadata (the check reads only that, never v2's modules)."""
    site = root / "site"
    info = site / f"sagemaker-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: sagemaker\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")
    return site


SDK_V2_SENTENCE = (
    "SageMaker Python SDK 2.232.0 (SDK v2) is installed, but mlmax drives SDK v3; upgrade "
    "with pip install 'sagemaker>=3.27,<4' and see docs/from-sdk-v2.md for what to write instead "
    "of SKLearnProcessor, the SKLearn estimator and LocalSession"
)


def test_an_sdk_v2_environment_is_named_by_the_plugin(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    site = _sdk_v2_site(tmp_path)
    done = _pytest(project, env={"PYTHONPATH": str(site)})
    assert f"mlmax: {SDK_V2_SENTENCE}" in done.stdout, done.stdout
    # The SDK v3 this environment really has says nothing.
    assert "SDK v2" not in _pytest(project).stdout


def test_an_sdk_v2_environment_is_named_by_doctor(tmp_path):
    site = _sdk_v2_site(tmp_path)
    command = [sys.executable, "-m", "mlmax", "doctor"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    found, fix = SDK_V2_SENTENCE.split("; ")
    assert f"✗ SageMaker SDK: {found}\n    fix: U{fix[1:]}." in done.stdout, done.stdout

"""`mlmax doctor` and `mlmax image build` in a project: the images its jobs and tests run in,
and every missing prerequisite with the apt or pip command an outside project can run."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from mlmax.cli import main
from mlmax.cli.doctor import mmdebstrap_check
from mlmax.localmode.engine import docker_client

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churnlab"
MISSING_TAG = "mlmax-test-never-built:none"


def _project(root: Path, name: str, jobs: dict[str, str]) -> Path:
    """A project named `name` whose jobs each get the `[tool.mlmax.jobs.X]` lines given,
    with churnlab's requirements file."""
    (root / "requirements.txt").write_bytes((EXAMPLE / "requirements.txt").read_bytes())
    (root / "job.py").write_text("print('job')\n")
    tables = "".join(
        f'\n[tool.mlmax.jobs.{job}]\nscript = "job.py"\nkind = "processing"\n{lines}\n'
        for job, lines in jobs.items()
    )
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n{tables}')
    return root


def _checks(out: str) -> list[str]:
    """The doctor's checks, one string each: `✓ name: detail` or `✗ name: detail | fix`."""
    found: list[str] = []
    for line in out.splitlines():
        if line[:2] in ("✓ ", "✗ "):
            found.append(line)
        elif line.startswith("    fix: "):
            found[-1] += f" | {line[len('    fix: ') :]}"
    return found


@pytest.mark.smlocal
def test_doctor_in_a_project_checks_the_images_its_jobs_run_in(
    sm_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"doctor-{uuid.uuid4().hex[:8]}"  # no other run's: its own image is not built
    root = _project(
        tmp_path,
        name,
        {
            "own": 'requirements = "requirements.txt"',
            "tagged": f'image = "{sm_image}"',
            "absent": f'image = "{MISSING_TAG}"',
            "plain": "",
        },
    )
    monkeypatch.chdir(root)
    assert main(["doctor"]) == 1
    checks = _checks(capsys.readouterr().out)
    first = checks.index(next(c for c in checks if c.startswith("✓ Base image"))) + 1
    images = checks[first : checks.index(next(c for c in checks if "SageMaker SDK" in c))]

    assert images == [
        # Jobs that name no image run in mlmax's, as do the tests (the project names none).
        f"✓ Job image: {sm_image} (job plain and the tests' default)",
        f"✗ Declared image: {MISSING_TAG} (job absent) is not in the engine | Load it "
        f"(`docker load -i FILE`) or build it (`docker build -t {MISSING_TAG} ...`), or "
        "declare requirements instead of image and mlmax builds it.",
        images[2],  # the project's own image, below
        f"✓ Declared image: {sm_image} (job tagged)",
    ]
    assert re.fullmatch(
        rf"✗ {re.escape(name)} job image: mlmax-job-{re.escape(name)}:[0-9a-f]{{12}} "
        rf"\(job own\) is not built yet \| Run `mlmax image build` in {re.escape(str(root))} "
        r"\(offline; it shows progress\)\.",
        images[2],
    )
    # mlmax installs SDK v3's distributions, not the `sagemaker` meta-package.
    assert any(re.fullmatch(r"✓ SageMaker SDK: sagemaker(-core)? [0-9.]+", c) for c in checks)


@pytest.mark.smlocal
def test_image_build_in_a_project_builds_every_image_it_does_not_name(
    sm_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _project(
        tmp_path,
        "churnlab",  # churnlab's name and requirements: the image the wheel test runs in
        {
            "own": 'requirements = "requirements.txt"',
            "plain": "",
            "tagged": f'image = "{sm_image}"',
        },
    )
    monkeypatch.chdir(root)
    assert main(["image", "build"]) == 0
    built = re.findall(r"✓ job image (\S+) ready", capsys.readouterr().out)
    # mlmax's (for the tests and the plain job), then the project's own; the tag it names is
    # its own business.
    assert built[0] == sm_image
    assert re.fullmatch(r"mlmax-job-churnlab:[0-9a-f]{12}", built[1]) and len(built) == 2
    client = docker_client()
    try:
        assert client.images.get(built[1]).labels["org.mlmax.project"] == "churnlab"
    finally:
        client.close()


def test_mmdebstrap_is_checked_with_its_apt_command_where_mlmax_would_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLMAX_BASE_IMAGE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no mmdebstrap
    [(name, ok, detail, fix)] = mmdebstrap_check()
    assert (name, ok) == ("mmdebstrap", False)
    assert "not installed" in detail and fix == "Install it: `apt-get install -y mmdebstrap`."
    # A base image the user chose is used as it is: mmdebstrap is not needed then.
    monkeypatch.setenv("MLMAX_BASE_IMAGE", "python:3.11-slim")
    assert mmdebstrap_check() == []

"""The pytest plugin's options, skip reason and start-up check, in pytest subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

INNER = """
import pytest

@pytest.mark.smlocal
def test_in_container():
    pass

def test_plain():
    pass
"""


def _pytest(tmp_path, *args, env=None):
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args, "test_inner.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_smlocal_tests_are_skipped_with_the_reason_without_the_flag(tmp_path):
    result = _pytest(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "need --smlocal option to run" in result.stdout


def test_the_summary_counts_container_tests_by_outcome(tmp_path):
    # CI's log must show that container tests ran rather than being skipped.
    skipped = _pytest(tmp_path)
    assert "mlmax: container tests (marker smlocal): 0 passed, 0 failed, 1 skipped" in (
        skipped.stdout
    )
    ran = _pytest(tmp_path, "--smlocal")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "mlmax: container tests (marker smlocal): 1 passed, 0 failed, 0 skipped" in ran.stdout


def test_unusable_docker_stops_the_run_with_one_message(tmp_path):
    result = _pytest(
        tmp_path, "--smlocal", env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    )
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "--smlocal cannot run:" in output
    assert "Docker daemon" in output or "docker" in output.lower()
    assert "Traceback" not in output
    assert "passed" not in result.stdout


def test_missing_sm_image_is_named(tmp_path):
    result = _pytest(tmp_path, "--smlocal", "--sm-image", "mlmax-no-such-image:0")
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "image 'mlmax-no-such-image:0' (from --sm-image) is not in the local" in output

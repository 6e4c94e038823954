"""The pytest plugin's options, skip reason, lazy Docker check and failure reports.

Each case runs pytest in a subprocess on a small test file, as a user's run would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

from tests.support.docker_tripwire import DockerTripwire
from tests.support.inner_pytest import isolate

INNER = """
import pytest

@pytest.mark.smlocal
def test_in_container():
    pass

def test_plain():
    pass
"""

MORE_CONTAINER_TESTS = """

@pytest.mark.smlocal
def test_in_container_too(sm_image):
    pass

@pytest.mark.smlocal
def test_in_container_three(sm_local):
    pass
"""

ONE_CONTAINER_TEST = """
import pytest

@pytest.mark.smlocal
def test_in_container(sm_image):
    pass

def test_plain():
    pass
"""


def _pytest(tmp_path, *args, env=None, source=INNER):
    isolate(tmp_path)
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
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


def test_unusable_docker_fails_each_container_test_with_one_sentence_checked_once(tmp_path):
    """The unit test passes; every container test ends with the same sentence; one check."""
    with DockerTripwire() as one:
        single = _pytest(
            tmp_path, "--smlocal", env={"DOCKER_HOST": one.docker_host}, source=ONE_CONTAINER_TEST
        )
    with DockerTripwire() as three:
        result = _pytest(
            tmp_path,
            "--smlocal",
            env={"DOCKER_HOST": three.docker_host},
            source=ONE_CONTAINER_TEST + MORE_CONTAINER_TESTS,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 passed, 3 errors" in result.stdout, output
    sentences = [line for line in result.stdout.splitlines() if "--smlocal cannot run:" in line]
    assert len(sentences) >= 3, output  # one per container test (the -ra summary repeats them)
    assert "Cannot reach the Docker daemon" in sentences[0]
    assert "Traceback" not in output
    # Docker was asked once for the session, not once per container test.
    assert single.returncode == 1, single.stdout + single.stderr
    assert one.connections > 0
    assert three.connections == one.connections


def test_collection_with_smlocal_touches_no_docker(tmp_path):
    with DockerTripwire() as tripwire:
        result = _pytest(
            tmp_path,
            "--smlocal",
            "--collect-only",
            env={"DOCKER_HOST": tripwire.docker_host},
            source=ONE_CONTAINER_TEST + MORE_CONTAINER_TESTS,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 tests collected" in result.stdout
    assert tripwire.connections == 0


def test_missing_sm_image_is_named(tmp_path):
    result = _pytest(
        tmp_path,
        "--smlocal",
        "--sm-image",
        "mlmax-no-such-image:0",
        source=ONE_CONTAINER_TEST,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 passed, 1 error" in result.stdout, output
    assert "image 'mlmax-no-such-image:0' (from --sm-image) is not in the local" in output
    assert "Traceback" not in output


def test_a_test_file_with_a_syntax_error_gives_pytests_collection_error(tmp_path):
    """What VS Code runs on every save while a test file is being edited."""
    for args in ((), ("--smlocal",), ("--smlocal", "--collect-only")):
        result = _pytest(tmp_path, *args, source=INNER + "\ndef test_broken(:\n    pass\n")
        output = result.stdout + result.stderr
        assert result.returncode == 2, output
        assert "ERROR collecting test_inner.py" in result.stdout
        assert "SyntaxError" in result.stdout
        assert "pytest_plugin" not in output and "AttributeError" not in output
        assert "INTERNALERROR" not in output


MLMAX_ERROR_IN_A_TEST = """
from mlmax.project.declarations import DeclarationError

def load_declarations():
    raise DeclarationError("pyproject.toml: [tool.mlmax] is wrong; fix its key")

def test_declarations():
    load_declarations()

def test_a_bug():
    raise ZeroDivisionError("a bug")
"""


def test_an_mlmax_error_in_a_test_is_its_sentence_and_the_tests_own_lines(tmp_path):
    result = _pytest(tmp_path, "-p", "no:xdist", source=MLMAX_ERROR_IN_A_TEST)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    failure = output.split("test_declarations _")[1].split("test_a_bug _")[0]
    assert failure.lstrip("_ \n").startswith("pyproject.toml: [tool.mlmax] is wrong; fix its key")
    assert re.search(r"test_inner\.py:\d+: in test_declarations\n +load_declarations\(\)", failure)
    assert re.search(r"test_inner\.py:\d+: in load_declarations\n +raise DeclarationError", failure)
    assert "Traceback" not in failure and "def test_declarations" not in failure
    # Any other exception is pytest's usual report, source and all.
    assert "def test_a_bug():" in output and "ZeroDivisionError: a bug" in output


SOURCE_GONE_BEFORE_THE_REPORT = """
import pathlib

from mlmax.project.declarations import DeclarationError

def test_declarations():
    # The source cannot be read back when the report is written (here: removed; for a
    # user, a file they may not read): the sentence still comes, the session goes on.
    pathlib.Path(__file__).unlink()
    raise DeclarationError("pyproject.toml: [tool.mlmax] is wrong; fix its key")

def test_after():
    pass
"""


def test_a_test_whose_source_cannot_be_read_back_still_gets_the_sentence(tmp_path):
    result = _pytest(tmp_path, "-p", "no:xdist", source=SOURCE_GONE_BEFORE_THE_REPORT)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "INTERNALERROR" not in output
    assert "pyproject.toml: [tool.mlmax] is wrong; fix its key" in output
    assert re.search(r"test_inner\.py:\d+: in test_declarations", output), output
    assert "1 failed, 1 passed" in output


def test_a_bad_option_is_pytests_usage_error_with_mlmaxs_sentence(tmp_path):
    result = _pytest(tmp_path, "--test-at", "nonsense")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "ERROR: --test-at takes FILE:LINE" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr

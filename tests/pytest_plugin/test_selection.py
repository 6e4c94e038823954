"""`--test-at FILE:LINE`: the test at an editor's cursor, found by pytest's collection."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.inner_pytest import isolate

COLLECT = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]

SOURCE = """
import pytest


def test_first():
    assert True


@pytest.mark.parametrize("n", [1, 2])
def test_second(n):
    assert n


class TestGroup:
    def test_method(self):
        assert True
"""


CURSOR_ARGS = ("test_cursor.py", "--test-at")


def _collect(tmp_path, at: str):
    isolate(tmp_path)
    (tmp_path / "test_cursor.py").write_text(textwrap.dedent(SOURCE))
    return subprocess.run(
        [*COLLECT, *CURSOR_ARGS, at],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ids(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_a_line_inside_a_test_selects_that_test_only(tmp_path):
    for line, expected in (
        (5, ["test_cursor.py::test_first"]),  # the def line
        (6, ["test_cursor.py::test_first"]),  # the body
        (9, ["test_cursor.py::test_second[1]", "test_cursor.py::test_second[2]"]),  # decorator
        (16, ["test_cursor.py::TestGroup::test_method"]),
    ):
        result = _collect(tmp_path, f"{tmp_path / 'test_cursor.py'}:{line}")
        assert result.returncode == 0, result.stdout + result.stderr
        assert _ids(result) == expected, line


def test_a_line_outside_every_test_is_one_sentence(tmp_path):
    result = _collect(tmp_path, "test_cursor.py:2")
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "--test-at: no collected test holds line 2" in output
    assert "put the cursor inside a test function" in output
    assert "Traceback" not in output


def test_a_malformed_value_is_one_sentence(tmp_path):
    result = _collect(tmp_path, "test_cursor.py")
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "--test-at takes FILE:LINE" in output
    assert "Traceback" not in output

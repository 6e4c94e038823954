"""Every code block of the documentation that can run on this machine runs here.

How each block is tested is decided by tests/docs/blocks.py (a marker comment before the
fence, else its language); a block it cannot classify fails the first test.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.docs import blocks
from tests.docs.blocks import REPO, Block
from tests.support.xdist_groups import JOB_IMAGE_BUILDS

EXAMPLE = REPO / "examples" / "churnlab"
# churnlab's own container tests run in tests/ownproject; a copy here runs the pages' tests.
EXAMPLE_OWN_TESTS = "tests/test_jobs_in_containers.py"
BIN = Path(sys.executable).parent
TIMEOUT = 900


def ids(found: list[Block]) -> list[str]:
    return [block.name for block in found]


def test_every_block_is_classified() -> None:
    problems = []
    kinds: dict[str, int] = {}
    for block in blocks.every_block():
        try:
            kind = blocks.classify(block)
        except ValueError as error:
            problems.append(str(error))
        else:
            kinds[kind] = kinds.get(kind, 0) + 1
    assert not problems, "\n".join(problems)
    # The pages do hold blocks of the kinds run below (a parser that found none would pass).
    assert {"bash", "file", "mlmax-test", "toml", "skip", "include"} <= set(kinds), kinds


def test_an_unknown_block_is_not_classified(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Text\n\n```ruby\nputs 1\n```\n\n<!-- docs-test: skip: -->\n```bash\nx\n```\n")
    first, second = blocks.blocks(page)
    with pytest.raises(ValueError, match="cannot tell how to test a ruby block"):
        blocks.classify(first)
    with pytest.raises(ValueError, match="must say why"):
        blocks.classify(second)


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONDONTWRITEBYTECODE": "1",  # run from the checkout, a job writes no __pycache__
    }


def _run_bash(block: Block, cwd: Path) -> None:
    script = block.text.replace(".venv/bin/", f"{BIN}/")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, (
        f"{block.name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )


def _copy_of_the_example(destination: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".venv", "*.egg-info")
    return Path(shutil.copytree(EXAMPLE, destination, ignore=ignore))


def _checkout_state() -> str:
    return blocks.git("status", "--porcelain", "--untracked-files=all")


def _bash(block: Block, tmp_path: Path) -> None:
    if "example" in block.words:
        _run_bash(block, _copy_of_the_example(tmp_path / "example"))
    elif "checkout" in block.words:
        before = _checkout_state()
        _run_bash(block, REPO)
        assert _checkout_state() == before, f"{block.name} changed the checkout"
    else:
        _run_bash(block, tmp_path)


def _python(block: Block, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", block.text],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{block.name}:\n{done.stdout}\n{done.stderr}"


# Scripts and shell blocks; the shell blocks that need Docker run with the container tests.
RUNNABLE = blocks.of_kind("python") + blocks.of_kind("bash")
UNIT = [block for block in RUNNABLE if "smlocal" not in block.words]
CONTAINER = [block for block in RUNNABLE if "smlocal" in block.words]


@pytest.mark.parametrize("block", UNIT, ids=ids(UNIT))
def test_block_runs(block: Block, tmp_path: Path) -> None:
    (_python if block.language == "python" else _bash)(block, tmp_path)


# A block may build a job image (`mlmax image build`): with the other image builds, so that no
# prune on the other xdist worker removes it meanwhile.
@pytest.mark.smlocal
@JOB_IMAGE_BUILDS
@pytest.mark.parametrize("block", CONTAINER, ids=ids(CONTAINER))
def test_block_runs_with_docker(block: Block, tmp_path: Path) -> None:
    _bash(block, tmp_path)


def _subset(part: object, whole: object) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            key in whole and _subset(value, whole[key]) for key, value in part.items()
        )
    return part == whole


TOML = blocks.of_kind("toml")


@pytest.mark.parametrize("block", TOML, ids=ids(TOML))
def test_declarations_are_the_examples(block: Block) -> None:
    shown = tomllib.loads(block.text)
    example = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    assert "mlmax" in shown.get("tool", {}), f"{block.name} declares no [tool.mlmax]"
    assert _subset(shown, example), f"{block.name} differs from examples/churnlab/pyproject.toml"


JSON = blocks.of_kind("json")


@pytest.mark.parametrize("block", JSON, ids=ids(JSON))
def test_json_block_parses(block: Block) -> None:
    json.loads(block.text)


INCLUDES = blocks.of_kind("include")


@pytest.mark.parametrize("block", INCLUDES, ids=ids(INCLUDES))
def test_included_files_exist(block: Block) -> None:
    missing = [path for path in blocks.included(block) if not path.is_file()]
    assert not missing, f"{block.name} includes missing files: {missing}"


def test_skipped_blocks_say_what_tests_them_instead() -> None:
    # A reason of a few words at least: "needs AWS" alone would say nothing about the rest.
    short = [block.name for block in blocks.of_kind("skip") if len(block.marker or "") < 20]
    assert not short, f"skipped blocks without a real reason: {short}"


def _tests_in(text: str) -> int:
    return sum(
        isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        for node in ast.walk(ast.parse(text))
    )


def _pytest_in(project: Path, tmp_path: Path, expected: int) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--smlocal", "-p", "no:cacheprovider", "-q",
            f"--basetemp={tmp_path / 'basetemp'}",
        ],
        cwd=project,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert re.search(rf"\b{expected} passed\b", done.stdout), done.stdout[-3000:]
    assert f"container tests (marker smlocal): {expected} passed" in done.stdout


@pytest.mark.smlocal
def test_the_pages_tests_pass_in_a_copy_of_the_example(tmp_path: Path) -> None:
    project = _copy_of_the_example(tmp_path / "churnlab")
    (project / EXAMPLE_OWN_TESTS).unlink()
    written: dict[str, Block] = {}
    for block in blocks.of_kind("file"):
        path = blocks.file_path(block)
        assert path not in written, f"{block.name} and {written[path].name} both write {path}"
        written[path] = block
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(block.text, encoding="utf-8")
    assert written
    _pytest_in(project, tmp_path, sum(_tests_in(block.text) for block in written.values()))


@pytest.mark.smlocal
def test_the_pages_tests_of_mlmaxs_own_jobs_pass(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    # A project that declares no jobs of its own: mlmax's jobs, in mlmax's job image.
    (project / "pyproject.toml").write_text('[project]\nname = "docs-examples"\nversion = "0"\n')
    found = blocks.of_kind("mlmax-test")
    for number, block in enumerate(found):
        (project / "tests" / f"test_page_{number}.py").write_text(block.text, encoding="utf-8")
    assert found
    _pytest_in(project, tmp_path, sum(_tests_in(block.text) for block in found))

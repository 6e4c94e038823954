"""What the documentation and the code point at exists, and nothing points at a tracker."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.docs import blocks

REPO = Path(__file__).resolve().parents[2]
# `tests/x/test_y.py` or `tests/x/test_y.py::test_z` (and `::test_w` after it, same file).
TEST_REFERENCE = re.compile(r"(?<![\w/.=])(tests/[\w/]+\.py)((?:::\w+)?)")
# A file of the repository named in the text: `mlmax_census/jobs/serving.py`, `benchmarks/scale.py`.
FILE_REFERENCE = re.compile(
    r"(?<![\w/.=])((?:mlmax|tests|benchmarks|examples|scripts|docs|\.devcontainer|\.vscode)"
    r"/[\w./-]*\w\.(?:py|md|toml|txt|sh|json|yml))\b"
)
FOLLOWING = re.compile(r"`::(\w+)`")
# "issue 11", "Issue #12", "issues 3", "(#12)", " #12 ": a number in someone's tracker.
TRACKER = re.compile(r"\bissues? ?#?\d+|(?:^|[\s(])#\d{1,5}\b", re.IGNORECASE)


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_the_documentation_names_exists() -> None:
    missing = []
    for page in blocks.documentation():
        text = page.read_text(encoding="utf-8")
        for line in text.splitlines():
            current = None
            for match in TEST_REFERENCE.finditer(line):
                current = REPO / match[1]
                if not current.is_file():
                    missing.append(f"{page.name}: {match[1]}")
                    current = None
                elif match[2] and match[2][2:] not in _functions(current):
                    missing.append(f"{page.name}: {match[1]}{match[2]}")
            if current is not None:
                for name in FOLLOWING.findall(line):
                    if name not in _functions(current):
                        missing.append(f"{page.name}: {current.name}::{name}")
    assert not missing, missing


def test_every_file_the_documentation_names_exists() -> None:
    missing = []
    for page in blocks.documentation():
        for match in FILE_REFERENCE.finditer(page.read_text(encoding="utf-8")):
            if not (REPO / match[1]).exists():
                missing.append(f"{page.relative_to(REPO)}: {match[1]}")
    assert not missing, missing


def test_nothing_refers_to_an_issue_tracker() -> None:
    tracked = blocks.git("ls-files", "-co", "--exclude-standard").split()
    found = []
    for name in tracked:
        path = REPO / name
        # The lock's hashes and versions are not prose; this file holds the pattern's examples.
        if name == "requirements.lock" or path == Path(__file__) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a picture
        for number, line in enumerate(text.splitlines(), 1):
            if TRACKER.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_tracker_pattern_finds_what_it_should() -> None:
    for line in ("see issue 11", "Issue #12's goal", "fixed in (#7)", "as in #3 above"):
        assert TRACKER.search(line), line
    for line in ("color:#222}", "a section #anchor", "tissue 3D"):
        assert not TRACKER.search(line), line

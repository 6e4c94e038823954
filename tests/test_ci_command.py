"""CI runs exactly the test command the README gives a developer (set-up included)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETUP_AND_TEST = re.compile(r"^scripts/setup\.sh && \.venv/bin/pytest\b.*$", re.MULTILINE)


def test_ci_runs_the_readmes_test_command() -> None:
    readme = SETUP_AND_TEST.findall((REPO / "README.md").read_text(encoding="utf-8"))
    ci = SETUP_AND_TEST.findall((REPO / ".ci" / "run").read_text(encoding="utf-8"))
    assert len(readme) == 1, readme
    assert ci == readme
    # Two workers, with the tests that cannot share the machine kept on one of them.
    assert " -n 2 --dist loadgroup" in ci[0]

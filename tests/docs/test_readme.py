"""The README is the way in: short, the two commands first, every link going somewhere."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs import blocks

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
LINK = re.compile(r"\]\(([^)#]+)(#[^)]*)?\)")


def test_the_readme_is_at_most_200_lines() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def test_the_two_commands_come_first() -> None:
    first = blocks.blocks(README)[0]
    commands = [line for line in first.text.splitlines() if line and not line.startswith("#")]
    assert commands == [
        "scripts/setup.sh && .venv/bin/mlmax pipeline",
        "scripts/setup.sh && .venv/bin/pytest --smlocal -n 2 --dist loadgroup",
    ]
    # Nothing but the title and the tagline before them.
    before = README.read_text(encoding="utf-8").splitlines()[: first.line - 1]
    assert not any(line.startswith("## ") for line in before)


def test_every_link_of_the_readme_exists() -> None:
    targets = [match[1] for match in LINK.finditer(README.read_text(encoding="utf-8"))]
    assert any(target.startswith("docs/") for target in targets)
    missing = [t for t in targets if "://" not in t and not (REPO / t).exists()]
    assert not missing, missing


def test_the_readme_links_every_page_of_the_site() -> None:
    linked = set(LINK.findall(README.read_text(encoding="utf-8")))
    linked_paths = {target for target, _ in linked}
    pages = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md") if p.name != "index.md"}
    # The dev container page is the dev container's own README, linked as such.
    pages.discard("docs/devcontainer.md")
    assert pages <= linked_paths, pages - linked_paths

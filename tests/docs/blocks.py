"""The code blocks of the documentation (README.md, docs/, .devcontainer/), each classified by
how it is tested.

A block is classified by an HTML comment on the line before its fence, else by its language:

- `<!-- docs-test: skip: REASON -->`: not run here; the reason (why it cannot run unattended
  on this machine, and what tests it instead) is required;
- `<!-- docs-test: file=PATH -->`: the file PATH of a copy of examples/churnlab, whose tests
  then run with `pytest --smlocal`;
- `<!-- docs-test: mlmax-test -->`: a test of mlmax's own jobs, run with `pytest --smlocal` in
  a project of its own;
- for a `bash` block, any of `smlocal` (needs Docker: runs with the container tests),
  `example` (runs in a copy of examples/churnlab) and `checkout` (runs in this checkout,
  which it must leave as it was); without them it runs in an empty folder;
- `text`: output or plain text; `mermaid`: a diagram (the site's build renders it);
- `toml`: a `[tool.mlmax]` declaration, which must be examples/churnlab's;
- `json`: must parse;
- a block holding only `--8<-- "FILE"` lines: a file of the repository, included as it is;
- `python` with no marker: a script, run in an empty folder.

Anything else cannot be classified, and the test of classification fails on it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(```|~~~)\s*([\w+-]*)")
MARKER = re.compile(r"^<!-- docs-test: (.*) -->$")
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')
BASH_FLAGS = {"smlocal", "example", "checkout"}


def documentation() -> list[Path]:
    """Every Markdown file a reader sees: the README, the site's pages, the dev container's."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return pages + sorted((REPO / ".devcontainer").rglob("*.md"))


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str | None  # the text of a `<!-- docs-test: ... -->` comment before the fence

    @property
    def name(self) -> str:
        path = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{path}:{self.line}"

    @property
    def words(self) -> set[str]:
        return set((self.marker or "").split())


def blocks(path: Path) -> list[Block]:
    found = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith(opening[1]):
            end += 1
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = MARKER.match(previous.strip())
        found.append(
            Block(
                path=path,
                line=index + 1,
                language=opening[2].lower(),
                text="\n".join(lines[index + 1 : end]) + "\n",
                marker=marker[1].strip() if marker else None,
            )
        )
        index = end + 1
    return found


def every_block() -> list[Block]:
    return [block for path in documentation() for block in blocks(path)]


def classify(block: Block) -> str:
    """How the block is tested (see the module's docstring); ValueError if it cannot be told."""
    marker = block.marker or ""
    if marker.startswith("skip:"):
        if not marker.removeprefix("skip:").strip():
            raise ValueError(f"{block.name}: a skipped block must say why")
        return "skip"
    if marker.startswith("skip"):
        raise ValueError(f"{block.name}: write `skip: REASON`")
    content = [line for line in block.text.splitlines() if line.strip()]
    if content and all(INCLUDE.match(line) for line in content):
        return "include"
    if marker.startswith("file="):
        if block.language != "python":
            raise ValueError(f"{block.name}: file= takes a python block")
        return "file"
    if marker == "mlmax-test":
        return "mlmax-test"
    if block.language == "bash":
        unknown = block.words - BASH_FLAGS
        if unknown:
            raise ValueError(f"{block.name}: unknown marker word(s) {sorted(unknown)}")
        return "bash"
    if marker:
        raise ValueError(f"{block.name}: marker {marker!r} does not apply to a {block.language}")
    if block.language in ("text", "mermaid", "toml", "json"):
        return block.language
    if block.language == "python":
        if "def test_" in block.text:
            raise ValueError(f"{block.name}: a test needs `file=PATH` or `mlmax-test`")
        return "python"
    raise ValueError(
        f"{block.name}: cannot tell how to test a {block.language or 'plain'} block; "
        "give it a language this module knows or a `<!-- docs-test: ... -->` marker"
    )


def of_kind(kind: str) -> list[Block]:
    found = []
    for block in every_block():
        try:
            if classify(block) == kind:
                found.append(block)
        except ValueError:
            continue  # test_every_block_is_classified names it
    return found


def file_path(block: Block) -> str:
    return (block.marker or "").removeprefix("file=").strip()


def included(block: Block) -> list[Path]:
    return [REPO / INCLUDE.match(line)[1] for line in block.text.splitlines() if line.strip()]


def git(*arguments: str) -> str:
    """A git command's output in this checkout."""
    done = subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stdout

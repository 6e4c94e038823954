"""README's "Layout" table matches the tree: every path it names exists, and every module and
package at the top of mlmax/ has a row (a newcomer looks a module up there first)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not modules a reader looks for: the package marker, the typing marker.
UNLISTED = {"__init__.py", "py.typed"}


def layout_rows() -> list[tuple[list[str], str]]:
    """README's Layout table: each row's backquoted paths (first column) and its text."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [(re.findall(r"`([^`]+)`", row.split(" | ")[0]), row.split(" | ", 1)[1]) for row in rows]


def layout_paths() -> list[str]:
    return [path for paths, _ in layout_rows() for path in paths]


def test_every_path_in_the_layout_table_exists():
    missing = [path for path in layout_paths() if not (ROOT / path).exists()]
    assert not missing, f"README's Layout table names paths that do not exist: {missing}"


def test_every_top_level_module_of_mlmax_has_a_row():
    listed = {path.rstrip("/") for path in layout_paths()}
    entries = [
        entry
        for entry in sorted((ROOT / "mlmax").iterdir())
        if entry.name not in UNLISTED and not entry.name.startswith((".", "__pycache__"))
    ]
    unlisted = [
        str(entry.relative_to(ROOT))
        for entry in entries
        if str(entry.relative_to(ROOT)) not in listed
    ]
    assert not unlisted, f"README's Layout table has no row for: {unlisted}"


def test_the_modules_a_folder_row_names_are_in_that_folder():
    # e.g. `container_run.py` or `endpoint*.py` in the row of `mlmax/localmode/`.
    stale = []
    for paths, text in layout_rows():
        folders = [ROOT / path for path in paths if path.endswith("/")]
        for name in re.findall(r"`([\w*]+\.py)`", text) if folders else []:
            if not any(any(folder.glob(name)) for folder in folders):
                stale.append(f"{name} (row {', '.join(paths)})")
    assert not stale, f"README's Layout table names modules that are not there: {stale}"

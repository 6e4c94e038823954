"""Every benchmark figure carries its date, commit and load average, and is on the page."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from tests.docs.hooks import hook_module

REPO = Path(__file__).resolve().parents[2]
tables = hook_module("benchmark_tables")
RESULTS = sorted(tables.RESULTS.glob("*.json"))


@pytest.mark.parametrize("path", RESULTS, ids=[path.stem for path in RESULTS])
def test_every_figure_says_when_where_and_under_what_load(path: Path) -> None:
    document = json.loads(path.read_text())
    assert (REPO / "benchmarks" / f"{document['benchmark']}.py").is_file()
    assert document["figures"]
    for figure in document["figures"]:
        datetime.fromisoformat(figure["date"])
        assert re.fullmatch(r"[0-9a-f]{40}", figure["commit"])
        assert re.fullmatch(r"[0-9a-f]{40}", figure.get("base", figure["commit"]))
        low, high = figure["load_average"]
        assert 0 <= low <= high
        assert isinstance(figure["value"], int | float) and figure["unit"]


def test_the_page_renders_every_result_file_and_nothing_else() -> None:
    page = (REPO / "docs" / "benchmarks.md").read_text()
    shown = set(re.findall(r"<!-- generated: benchmark (\w+) -->", page))
    assert shown == {path.stem for path in RESULTS}


def test_a_table_has_a_row_per_thing_and_a_column_per_side() -> None:
    figure = {"date": "2026-01-02T03:04:05+00:00", "commit": "a" * 40, "load_average": [1, 2]}
    document = {
        "figures": [
            {**figure, "table": "t", "what": "run", "column": "host", "value": 1.0, "unit": "s"},
            {**figure, "table": "t", "what": "run", "column": "local", "value": 3.0, "unit": "s",
             "samples": [2.5, 3.0, 3.5]},
            {**figure, "table": "t", "what": "run", "column": "local/host", "value": 3, "unit": "x",
             "note": "goal 1.5x"},
        ]
    }  # fmt: skip
    ((title, table),) = tables.tables(document)
    header, _, row = table.splitlines()
    assert title == "t"
    assert header == "| what | host | local | local/host | load average | date | commit |"
    assert row.startswith("| run | 1.00 s | 3.00 s<br><small>2.50 s – 3.50 s, n=3</small> |")
    assert "3.0x<br><small>goal 1.5x</small>" in row
    assert row.endswith("| 1.0–2.0 | 2026-01-02 | `aaaaaaaa` |")
    on_a_branch = {**document["figures"][0], "base": "b" * 40, "dirty": True}
    ((_, table),) = tables.tables({"figures": [on_a_branch]})
    assert table.endswith("| `bbbbbbbb+ (modified)` |")

"""The benchmark page's tables, rendered from benchmarks/results/<name>.json at build time.

Each table is one `table` of a result file: a row per `what`, a column per `column`, and for
each row the load average, the date and the commit its figures were measured at. A figure
that is a median shows its spread (min-max of its samples) under it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"

DIGITS = {"s": 2, "ms": 1, "x": 1, "MiB": 0, "requests/s": 0}


def load(name: str, results: Path = RESULTS) -> dict[str, Any]:
    path = results / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing; run benchmarks/{name}.py to write it (the page renders it)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def names(results: Path = RESULTS) -> list[str]:
    """Every benchmark with results."""
    return sorted(path.stem for path in results.glob("*.json"))


def _number(value: float, unit: str) -> str:
    digits = DIGITS.get(unit, 2)
    text = f"{value:,.{digits}f}"
    return f"{text}x" if unit == "x" else f"{text} {unit}"


def _cell(figure: dict[str, Any]) -> str:
    text = _number(figure["value"], figure["unit"])
    samples = figure.get("samples") or []
    if len(samples) > 1:
        low, high = min(samples), max(samples)
        unit = figure["unit"]
        spread = f"{_number(low, unit)} – {_number(high, unit)}, n={len(samples)}"
        text += f"<br><small>{spread}</small>"
    if figure.get("note"):
        text += f"<br><small>{html.escape(figure['note'])}</small>"
    return text


def _escape(text: str) -> str:
    return html.escape(text).replace("|", "&#124;")


def _commit(figure: dict[str, Any]) -> str:
    """The commit of main the figure stands on; `+` when the branch measured had commits of
    its own on top, `(modified)` when its working tree differed."""
    base = figure.get("base") or figure["commit"]
    own = "+" if figure["commit"] != base else ""
    return base[:8] + own + (" (modified)" if figure.get("dirty") else "")


def _provenance(figures: list[dict[str, Any]]) -> list[str]:
    """The row's load average range, its date(s) and commit(s)."""
    loads = [load for figure in figures for load in figure["load_average"]]
    dates = sorted({figure["date"][:10] for figure in figures})
    commits = sorted({_commit(figure) for figure in figures})
    load_text = f"{min(loads):.1f}"
    if max(loads) != min(loads):
        load_text += f"–{max(loads):.1f}"
    return [load_text, ", ".join(dates), ", ".join(f"`{c}`" for c in commits)]


def tables(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, Markdown table) for each table of a result file, in the order measured."""
    grouped: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for figure in document["figures"]:
        rows = grouped.setdefault(figure["table"], {})
        rows.setdefault(figure["what"], {})[figure["column"]] = figure
    rendered = []
    for title, rows in grouped.items():
        columns = list(dict.fromkeys(column for row in rows.values() for column in row))
        header = ["what", *columns, "load average", "date", "commit"]
        lines = [
            "| " + " | ".join(_escape(h) for h in header) + " |",
            "|---|" + "---:|" * len(columns) + "---:|---|---|",
        ]
        for what, row in rows.items():
            cells = [_cell(row[column]) if column in row else "" for column in columns]
            lines.append(
                "| " + " | ".join([_escape(what), *cells, *_provenance(list(row.values()))]) + " |"
            )
        rendered.append((title, "\n".join(lines)))
    return rendered


def markdown(name: str, results: Path = RESULTS) -> str:
    """The Markdown of one benchmark: how it was run, then its tables."""
    document = load(name, results)
    parts = [
        f"Measured by `{document['command']}` from {document['started'][:16].replace('T', ' ')}"
        f" to {document['finished'][:16].replace('T', ' ')} UTC on {document['cores']} cores;"
        " every figure below carries the load average while it was measured.",
    ]
    for title, table in tables(document):
        parts.append(f"**{_escape(title)}**\n\n{table}")
    return "\n\n".join(parts) + "\n"

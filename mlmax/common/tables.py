"""Every table mlmax shows, drawn by one library (rich): the CLI's, the report's, the benchmarks'.

- `print_table`: to a terminal, rich's table (bold header, fitted to the terminal's width);
  to a pipe or a file, the same table as plain text, never wrapped, so scripts and tests
  can read it.
- `render`: that plain text (or Markdown, for the report's .md page) as a string.
- `html_table`: the report's HTML page; rich draws for terminals only, so the one HTML
  table is written here, next to the others.

rich is imported when a table is drawn, not when mlmax is: `mlmax --help` stays quick.
"""

from __future__ import annotations

import html
import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.table import Table

Cells = Sequence[object]
# Wide enough that no table is wrapped when it is not drawn for a terminal.
_UNBOUNDED_WIDTH = 100_000


def _table(headers: Cells, rows: Sequence[Cells], right: Sequence[int], markdown: bool) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    def cell(value: object) -> Text:
        # Text, not str: a cell is shown as it is, never read as rich markup or emoji codes.
        text = str(value)
        return Text(text.replace("|", "\\|") if markdown else text)

    table = Table(
        box=box.MARKDOWN if markdown else box.SIMPLE_HEAD,
        show_edge=markdown,  # Markdown needs its outer pipes; plain text reads better without
        pad_edge=markdown,
        header_style="bold",
    )
    for index, header in enumerate(headers):
        table.add_column(cell(header), justify="right" if index in right else "left")
    for row in rows:
        table.add_row(*(cell(value) for value in row))
    return table


def render(
    headers: Cells, rows: Sequence[Cells], *, right: Sequence[int] = (), markdown: bool = False
) -> str:
    """The table as plain text (header, a rule, a line a row) or as a Markdown table."""
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=_UNBOUNDED_WIDTH, color_system=None, force_terminal=False)
    console.print(_table(headers, rows, right, markdown))
    # rich pads every line to the table's width and frames Markdown with blank lines.
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    if markdown and right:  # rich's Markdown rule has no alignment marks: `---:` is right
        rule = lines[1].split("|")
        lines[1] = "|".join(
            f"{cell[:-1]}:" if index - 1 in right else cell for index, cell in enumerate(rule)
        )
    return "\n".join(lines)


def print_table(
    headers: Cells, rows: Sequence[Cells], *, right: Sequence[int] = (), file: TextIO | None = None
) -> None:
    """Print the table: rich's rendering to a terminal, `render`'s plain text elsewhere."""
    out = file or sys.stdout
    if not out.isatty():
        print(render(headers, rows, right=right), file=out)
        return
    from rich.console import Console

    Console(file=out).print(_table(headers, rows, right, markdown=False))


def html_table(headers: Cells, rows: Sequence[Cells]) -> str:
    """An HTML <table> of the same cells, escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

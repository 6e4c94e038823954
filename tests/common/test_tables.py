"""mlmax.common.tables: the one way mlmax draws a table (rich), as plain text, Markdown or HTML."""

from __future__ import annotations

import io

from mlmax.common.tables import html_table, print_table, render

HEADERS = ["step", "status", "duration"]
ROWS = [["preprocessing", "succeeded", "1.2 s"], ["total", "succeeded", "10.0 s"]]


def test_plain_text_is_a_header_a_rule_and_a_line_a_row() -> None:
    lines = render(HEADERS, ROWS, right=(2,)).splitlines()
    assert [line.split() for line in lines[:1] + lines[2:]] == [
        ["step", "status", "duration"],
        ["preprocessing", "succeeded", "1.2", "s"],
        ["total", "succeeded", "10.0", "s"],
    ]
    assert set(lines[1]) == {"─"}
    assert lines[2].endswith(" 1.2 s") and lines[3].endswith("10.0 s")  # right-aligned
    assert all(line == line.rstrip() for line in lines)


def test_a_wide_table_is_never_wrapped_off_a_terminal() -> None:
    wide = [["x" * 300, "y" * 300]]
    assert len(render(["a", "b"], wide).splitlines()) == 3


def test_cells_are_shown_as_they_are_never_as_markup() -> None:
    text = render(["[bold]name"], [["[red]x[/red] :smile:"]])
    assert "[bold]name" in text and "[red]x[/red] :smile:" in text


def test_markdown_has_outer_pipes_alignment_marks_and_escaped_pipes() -> None:
    lines = render(["metric", "value"], [["a | b", "0.85"]], right=(1,), markdown=True)
    header, rule, row = lines.splitlines()
    assert header.split("|")[1:3] == [" metric ", " value "]
    assert rule.startswith("|-") and rule.endswith(":|")
    assert row.startswith("| a \\| b ") and row.endswith(" 0.85 |")


def test_print_table_off_a_terminal_prints_the_plain_text() -> None:
    out = io.StringIO()
    print_table(HEADERS, ROWS, right=(2,), file=out)
    assert out.getvalue() == render(HEADERS, ROWS, right=(2,)) + "\n"


def test_html_escapes_every_cell() -> None:
    assert html_table(["<h>"], [["a & b"]]) == (
        "<table><thead><tr><th>&lt;h&gt;</th></tr></thead>"
        "<tbody><tr><td>a &amp; b</td></tr></tbody></table>"
    )

"""MkDocs hooks (mkdocs.yml `hooks:`): the pages' generated parts, made at build time.

A page asks for a part with an HTML comment on a line of its own:

    <!-- generated: cli -->                the `mlmax` command's every (sub)command's help
    <!-- generated: pytest-options -->     the pytest plugin's options, from its parser
    <!-- generated: pytest-fixtures -->    the plugin's fixtures, from its modules
    <!-- generated: errors -->             every one-sentence error (error_index.py)
    <!-- generated: benchmark NAME -->     benchmarks/results/NAME.json's tables

An unknown part, or a benchmark without results, fails the build. The benchmark page's plot
of the scale runs is drawn from benchmarks/results/scale.json as the site is built.
"""

from __future__ import annotations

import html
import importlib.util
import io
import re
import sys
from pathlib import Path
from typing import Any

import benchmark_tables
import error_index
import reference

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- generated: ([\w-]+)(?: (\S+))? -->$", re.MULTILINE)
SCALE_PLOT = "img/scale.png"


def generated(part: str, argument: str | None) -> str:
    """The Markdown of one generated part."""
    if part == "benchmark" and argument:
        return benchmark_tables.markdown(argument)
    if part == "cli":
        return reference.cli_markdown()
    if part == "pytest-options":
        return reference.options_markdown()
    if part == "pytest-fixtures":
        return reference.fixtures_markdown()
    if part == "errors":
        return errors_markdown()
    raise ValueError(f"unknown generated part {part!r} (see docs/hooks/site.py)")


def expand(markdown: str) -> str:
    return MARKER.sub(lambda match: generated(match[1], match[2]), markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown)


def on_files(files: Any, config: Any) -> Any:
    """The scale plot, drawn from the JSON the scale benchmark wrote."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, SCALE_PLOT, content=scale_plot()))
    return files


def scale_plot() -> bytes:
    """benchmarks/scale.py's own plot of the runs in benchmarks/results/scale.json."""
    benchmarks = REPO / "benchmarks"
    sys.path.insert(0, str(benchmarks))  # scale.py imports its sibling results.py
    try:
        spec = importlib.util.spec_from_file_location("mlmax_bench_scale", benchmarks / "scale.py")
        assert spec is not None and spec.loader is not None
        scale = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(scale)
    finally:
        sys.path.remove(str(benchmarks))
    runs = benchmark_tables.load("scale")["runs"]
    with io.BytesIO() as buffer:
        scale.plot(runs, buffer)
        return buffer.getvalue()


def errors_markdown() -> str:
    """Every message site, by the part of mlmax that prints it, then the relayed ones."""
    sites, relayed = error_index.scan()
    by_area: dict[str, list[error_index.Site]] = {}
    for site in sites:  # by package: the folder of the module that writes it
        by_area.setdefault(site.path.rsplit("/", 1)[0], []).append(site)
    parts = [
        f"{len(sites)} messages, found in mlmax's source when this page was built "
        "(`docs/hooks/error_index.py`). `‹…›` is filled in when the message is printed."
    ]
    for area in sorted(by_area):
        lines = [
            f"### {area}",
            "",
            "| message | exit code | where |",
            "|---|---|---|",
        ]
        for site in sorted(by_area[area], key=lambda s: s.message.lower()):
            code = "" if site.exit_code is None else str(site.exit_code)
            lines.append(f"| {_message(site.message)} | {code} | `{site.path}:{site.line}` |")
        parts.append("\n".join(lines))
    if relayed:
        lines = [
            "### Messages handed on",
            "",
            "These print a message written elsewhere (a caught error's own text, or one of the "
            "sentences above passed on):",
            "",
            "| where | what it prints |",
            "|---|---|",
        ]
        for item in relayed:
            lines.append(f"| `{item.path}:{item.line}` | `{item.kind}({_code(item.source)})` |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _code(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _message(text: str) -> str:
    """A message as a table cell: HTML, its code spans as <code>, on one line."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backquote: no code spans
        pieces = [text]
    cells = []
    for index, piece in enumerate(pieces):
        escaped = html.escape(piece, quote=False)
        for char, entity in (("|", "&#124;"), ("*", "&#42;"), ("_", "&#95;"), ("[", "&#91;")):
            escaped = escaped.replace(char, entity)
        cells.append(f"<code>{escaped}</code>" if index % 2 else escaped)
    return "".join(cells).replace("\n", "<br>")

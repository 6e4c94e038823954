"""The reference pages' generated parts: read from the parsers and modules themselves.

- the `mlmax` command: the parser `mlmax.cli.build_parser()` builds, every (sub)command's
  `--help` as the command prints it;
- the pytest plugin: its options as its `pytest_addoption` declares them, and its fixtures
  with their scope and docstring, from the plugin pytest loads through the `pytest11` entry
  point, so the page follows the plugin wherever its modules live.
"""

from __future__ import annotations

import argparse
import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

WIDTH = "100"  # the help's line width, as on a terminal of 100 columns


@contextmanager
def _columns() -> Iterator[None]:
    """argparse wraps help to the terminal's width: make it the same on every machine."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _subcommands(
    parser: argparse.ArgumentParser, name: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub_parser in action.choices.items():
                yield from _subcommands(sub_parser, f"{name} {sub_name}")


def commands() -> list[tuple[str, str]]:
    """(command, its --help) for `mlmax` and every subcommand, in the parser's order."""
    from mlmax.cli import build_parser

    with _columns():
        return [(name, sub.format_help()) for name, sub in _subcommands(build_parser(), "mlmax")]


def cli_markdown() -> str:
    parts = []
    for name, help_text in commands():
        level = "#" * min(2 + name.count(" "), 4)
        parts.append(f"{level} `{name}`\n\n```text\n{help_text.rstrip()}\n```")
    return "\n\n".join(parts) + "\n"


def plugin_config() -> Any:
    """A pytest Config with mlmax's plugin registered from its entry point (no session)."""
    from _pytest.config import get_config

    config = get_config()
    (entry,) = entry_points(group="pytest11", name="mlmax")
    config.pluginmanager.register(entry.load(), "mlmax")
    return config


def options() -> list[dict[str, Any]]:
    """The plugin's options: names and argparse attributes, in declaration order."""
    group = plugin_config()._parser.getgroup("mlmax")
    return [{"names": option.names(), **option.attrs()} for option in group.options]


def _usage(option: dict[str, Any]) -> str:
    name = " / ".join(option["names"])
    if option["nargs"] == 0:
        return f"`{name}`"
    if option["nargs"] == "?":
        choices = "|".join(option["choices"] or ())
        return f"`{name}[={choices}]`"
    return f"`{name} {option['metavar'] or option['dest'].upper()}`"


def options_markdown() -> str:
    lines = ["| option | default | what it does |", "|---|---|---|"]
    for option in options():
        default = option["default"]
        shown = "" if default in (None, False) else f"`{default}`"
        if isinstance(default, float):
            shown = f"`{default:g}`"
        help_text = option["help"].replace("|", "\\|")
        lines.append(f"| {_usage(option)} | {shown} | {help_text} |")
    return "\n".join(lines) + "\n"


def fixtures() -> list[tuple[str, str, str]]:
    """(name, scope, docstring) of every fixture the plugin's modules define."""
    from _pytest.fixtures import FixtureFunctionDefinition

    found = []
    for _, plugin in plugin_config().pluginmanager.list_name_plugin():
        if not getattr(plugin, "__name__", "").startswith("mlmax"):
            continue
        for attribute, value in vars(plugin).items():
            if isinstance(value, FixtureFunctionDefinition):
                marker = value._fixture_function_marker
                doc = inspect.getdoc(value._get_wrapped_function()) or ""
                found.append((marker.name or attribute, marker.scope, doc))
    return found


def fixtures_markdown() -> str:
    lines = ["| fixture | scope | what it gives a test |", "|---|---|---|"]
    for name, scope, doc in fixtures():
        text = " ".join(doc.split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {scope} | {text} |")
    return "\n".join(lines) + "\n"

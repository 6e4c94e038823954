"""`--test-at FILE:LINE`: run only the test whose source holds that line of that file.

What an editor knows is a file and a cursor line (VS Code's `${file}:${lineNumber}`); pytest
collection turns it into a test, so a task can act on "the test at the cursor" without a
hand-kept list of test ids. A line inside a test function (its decorators included) selects
that test (every parametrization of it); any other line is a usage error naming the fix.
`TestAtLine` is registered by `mlmax.pytest_plugin.plugin` only when `--test-at` is given.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from mlmax.common import UsageError

OPTION = "--test-at"


def source_lines(item: pytest.Item) -> range | None:
    """The 1-based lines of the item's test function, decorators included."""
    function = getattr(item, "function", None)
    if function is None:
        return None
    try:
        lines, start = inspect.getsourcelines(inspect.unwrap(function))
    except (OSError, TypeError):
        return None
    return range(start, start + len(lines))


class TestAtLine:
    """Keeps only the items whose function holds the line; says so when none does."""

    __test__ = False  # a plugin, not a test class

    def __init__(self, file: Path, line: int) -> None:
        self.file = file.resolve()
        self.line = line

    @classmethod
    def from_option(cls, value: str) -> TestAtLine:
        """The selector of a `--test-at` value; a UsageError (mlmax's, made pytest's by
        mlmax.pytest_plugin.plugin) for a malformed one."""
        file, _, line = value.rpartition(":")
        if not file or not line.isdigit():
            raise UsageError(
                f"{OPTION} takes FILE:LINE, e.g. {OPTION} tests/test_x.py:12 (got {value!r})"
            )
        return cls(Path(file), int(line))

    @pytest.hookimpl(tryfirst=True)  # before inspect mode chooses among the selected tests
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[Any]) -> None:
        def holds_the_line(item: pytest.Item) -> bool:
            lines = source_lines(item)
            return item.path.resolve() == self.file and lines is not None and self.line in lines

        selected = [item for item in items if holds_the_line(item)]
        if not selected:
            pytest.exit(
                f"{OPTION}: no collected test holds line {self.line} of {self.file}; put the "
                "cursor inside a test function (and pass the file as a test path)",
                returncode=pytest.ExitCode.USAGE_ERROR,
            )
        config.hook.pytest_deselected(items=[item for item in items if item not in selected])
        items[:] = selected

"""No module of mlmax/ over 500 lines, no function over 80, unless the code says why.

The reason is a one-line comment `# size: <why>`: on the line before the function's `def`
(before its decorators, if any), or on the first line of the module.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mlmax"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
MARKER = "# size:"


def _has_reason(line: str) -> bool:
    return line.strip().startswith(MARKER) and bool(line.strip()[len(MARKER) :].strip())


def _oversized(path: Path, name: str) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    if len(lines) > MAX_MODULE_LINES and not (lines and _has_reason(lines[0])):
        found.append(f"{name}: {len(lines)} lines (module)")
    for node in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        before = lines[first - 2] if first >= 2 else ""
        if length > MAX_FUNCTION_LINES and not _has_reason(before):
            found.append(f"{name}:{node.lineno}: {node.name} is {length} lines")
    return found


def test_modules_and_functions_stay_small():
    offenders = [
        offender
        for path in sorted(PACKAGE.rglob("*.py"))
        for offender in _oversized(path, str(path.relative_to(PACKAGE.parent)))
    ]
    assert not offenders, (
        f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function; split it, "
        f"or put a one-line `{MARKER} <reason>` before it:\n" + "\n".join(offenders)
    )


def test_a_reason_comment_lets_a_long_function_through(tmp_path):
    body = "\n".join(f"    x = {i}" for i in range(MAX_FUNCTION_LINES))
    source = tmp_path / "long.py"
    source.write_text(f"def long():\n{body}\n", encoding="utf-8")
    assert _oversized(source, "long.py") == ["long.py:1: long is 81 lines"]
    source.write_text(f"# size: one table of cases\ndef long():\n{body}\n", encoding="utf-8")
    assert _oversized(source, "long.py") == []

"""JSON with comments (the dialect of VS Code's settings, tasks, launch and devcontainer files).

`loads` removes `//` and `/* */` comments and trailing commas before `}` or `]`, leaving
everything inside strings untouched (a URL's `//`, a regex's `,]`), then parses with `json`.
Offsets are kept: a comment becomes spaces (newlines kept), so json's error positions still
point at the right line of the original file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JsoncError(ValueError):
    """The text is not valid JSON with comments."""


def strip_comments(text: str) -> str:
    """The text with comments blanked out; strings and line numbers unchanged."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                raise JsoncError(f"unterminated /* comment starting at offset {i}")
            out.append("".join(c if c == "\n" else " " for c in text[i : end + 2]))
            i = end + 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def strip_trailing_commas(text: str) -> str:
    """Blank a comma followed (after whitespace only) by `}` or `]`; comments already gone."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            i = _string_end(text, i)
            continue
        if char == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                out[i] = " "
        i += 1
    return "".join(out)


def loads(text: str) -> Any:
    """Parse JSON with comments and trailing commas."""
    try:
        return json.loads(strip_trailing_commas(strip_comments(text)))
    except json.JSONDecodeError as error:
        raise JsoncError(str(error)) from None


def load(path: Path) -> Any:
    """Parse a JSON-with-comments file; the error names the file."""
    try:
        return loads(path.read_text(encoding="utf-8"))
    except JsoncError as error:
        raise JsoncError(f"{path}: {error}") from None


def _string_end(text: str, start: int) -> int:
    """Offset just past the string literal opening at `start` (escapes honoured)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        elif text[i] == "\n":
            break
        else:
            i += 1
    raise JsoncError(f"unterminated string starting at offset {start}")

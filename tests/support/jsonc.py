"""Reading VS Code's JSON-with-comments files (settings, tasks, launch, devcontainer).

JSONC is JSON plus comments and trailing commas, a subset of JSON5, which the `json5`
library parses (it comes with the SageMaker SDK already).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json5


class JsoncError(ValueError):
    """The file is not valid JSON with comments; the message names it and the line."""


def load(path: Path) -> Any:
    """Parse a JSON-with-comments file."""
    try:
        return json5.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # json5 reports "<string>:LINE <what>"
        raise JsoncError(f"{path}: {error}") from None

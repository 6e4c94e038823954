"""The documentation's build hooks (docs/hooks/), imported as MkDocs imports them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HOOKS = Path(__file__).resolve().parents[2] / "docs" / "hooks"


def hook_module(name: str) -> ModuleType:
    """docs/hooks/<name>.py, with its folder on sys.path while it loads (as MkDocs does)."""
    if f"docs_hooks.{name}" in sys.modules:
        return sys.modules[f"docs_hooks.{name}"]
    spec = importlib.util.spec_from_file_location(f"docs_hooks.{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(HOOKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(HOOKS))
    return module

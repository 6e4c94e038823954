"""Start a job script under debugpy with its heavy imports already done (runs in the container).

Its source is passed to ``python3 -c`` by `mlmax.localmode.run.debug_run.DebugOptions`, followed by
exactly the arguments ``python3 -m debugpy`` would get (``--listen 127.0.0.1:5678
--wait-for-client script.py args...``). Before handing over to debugpy's own command line,
it imports the third-party modules the script imports at its top level (pandas, scikit-learn,
...): once a debugger is attached every line runs under its tracer, and these imports were
most of the time between attach and the first line of ``main``. The script itself still runs
exactly as ``python3 -m debugpy`` runs it (same ``sys.argv``, ``__main__``, ``sys.path``);
it merely finds those modules already in ``sys.modules``, as after any earlier import. Modules
in the script's own folder are left alone, so breakpoints at their top level still bind, and
an import that fails here is left for the script to report as it would.

Standard library only (plus debugpy, which the debug image has).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import runpy
import sys
from collections.abc import Iterable


def script_of(arguments: Iterable[str]) -> str | None:
    """The target script among debugpy's command-line arguments."""
    skip_value = False
    for argument in arguments:
        if skip_value:
            skip_value = False
        elif argument in ("--listen", "--connect", "--log-to", "--configure-subProcess"):
            skip_value = True
        elif not argument.startswith("-"):
            return argument
    return None


def top_level_imports(source: str) -> list[str]:
    """Absolute module names imported at the top level of `source` (in order, no repeats)."""
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return list(dict.fromkeys(names))


def preimport(script: str) -> None:
    """Import the script's top-level third-party modules (errors left for the script)."""
    folder = os.path.dirname(os.path.abspath(script))
    try:
        with open(script, encoding="utf-8") as handle:
            names = top_level_imports(handle.read())
    except (OSError, SyntaxError, ValueError):
        return
    for name in names:
        try:
            spec = importlib.util.find_spec(name.split(".")[0])
            origin = getattr(spec, "origin", None) or ""
            if spec is None or os.path.abspath(origin).startswith(folder + os.sep):
                continue
            importlib.import_module(name)
        except Exception:  # the script reports its own import errors
            continue


def main() -> None:
    arguments = sys.argv[1:]
    script = script_of(arguments)
    if script is not None:
        preimport(script)
    sys.argv = ["debugpy", *arguments]
    runpy.run_module("debugpy", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

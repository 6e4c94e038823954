"""Reading the workspace files and running their tasks the way VS Code does.

VS Code runs a `"type": "process"` task as its `command` with its `args`, after substituting
`${workspaceFolder}`, `${file}`, `${lineNumber}`, `${command:python.interpreterPath}` and
friends, in `options.cwd`. These helpers do the same, so a test exercises the very command
line a user gets from the task palette. The interpreter VS Code would have selected is the
one running the suite (`sys.executable`), unless a test names another.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.jsonc import load as load_jsonc

REPO = Path(__file__).resolve().parents[2]
VSCODE = REPO / ".vscode"
DEVCONTAINER = REPO / ".devcontainer"
# The shared schema lives next to the project, never inside it.
DEVCONTAINER_SCHEMA = REPO.parent / "shared" / "schemas" / "devContainer.base.schema.json"

# Set in the environment of every task a test runs: a test that itself runs tasks (and so
# the suite again) skips inside such a nested run instead of recursing.
NESTED_ENV = "MLMAX_WORKSPACE_TASK_RUN"

# The task that runs the unit suite (tests/workspace/test_tasks.py proves it).
UNIT_TASK = "mlmax: run unit tests"

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def jsonc_files() -> list[Path]:
    """Every JSON-with-comments file of the workspace."""
    return sorted([*VSCODE.glob("*.json"), DEVCONTAINER / "devcontainer.json"])


def tasks() -> dict[str, Any]:
    return load_jsonc(VSCODE / "tasks.json")


def launch() -> dict[str, Any]:
    return load_jsonc(VSCODE / "launch.json")


def settings() -> dict[str, Any]:
    return load_jsonc(VSCODE / "settings.json")


def task(label: str) -> dict[str, Any]:
    for candidate in tasks()["tasks"]:
        if candidate["label"] == label:
            return candidate
    raise KeyError(f"tasks.json has no task labelled {label!r}")


def launch_config(name: str) -> dict[str, Any]:
    for config in launch()["configurations"]:
        if config["name"] == name:
            return config
    raise KeyError(f"launch.json has no configuration named {name!r}")


@dataclass(frozen=True)
class Editor:
    """What VS Code knows when it substitutes: the selected interpreter, the open file, the
    cursor's line."""

    interpreter: str = sys.executable
    file: Path | None = None
    line: int | None = None


def substitute(value: str, workspace: Path, editor: Editor = Editor()) -> str:
    """VS Code's variable substitution for the variables this workspace uses.

    An unknown variable is an error: VS Code would refuse to run the task, so must we.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "workspaceFolder":
            return str(workspace)
        if name == "workspaceFolderBasename":
            return workspace.name
        if name == "command:python.interpreterPath":
            return editor.interpreter
        if name in ("file", "relativeFile", "lineNumber"):
            if editor.file is None or (name == "lineNumber" and editor.line is None):
                raise ValueError(f"${{{name}}} needs a file open in the editor (and a cursor)")
            if name == "lineNumber":
                return str(editor.line)
            return str(editor.file) if name == "file" else str(editor.file.relative_to(workspace))
        raise ValueError(f"unsupported variable ${{{name}}} in {value!r}")

    return _VARIABLE.sub(replace, value)


def substitute_all(value: Any, workspace: Path, editor: Editor = Editor()) -> Any:
    """`substitute` applied to every string inside a JSON value."""
    if isinstance(value, str):
        return substitute(value, workspace, editor)
    if isinstance(value, list):
        return [substitute_all(v, workspace, editor) for v in value]
    if isinstance(value, dict):
        return {k: substitute_all(v, workspace, editor) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class TaskCommand:
    argv: list[str]
    cwd: Path
    env: dict[str, str]


def task_command(label: str, workspace: Path, editor: Editor = Editor()) -> TaskCommand:
    """The process VS Code starts for the task labelled `label` in `workspace`."""
    definition = task(label)
    if definition.get("type") != "process":
        raise ValueError(f"task {label!r} is not a process task; this helper runs only those")
    argv = [definition["command"], *definition.get("args", [])]
    argv = [substitute(part, workspace, editor) for part in argv]
    options = definition.get("options", {})
    cwd = Path(substitute(options.get("cwd", "${workspaceFolder}"), workspace, editor))
    env = dict(os.environ)
    env.update({k: substitute(v, workspace, editor) for k, v in options.get("env", {}).items()})
    env[NESTED_ENV] = "1"
    return TaskCommand(argv, cwd, env)


def copy_workspace(destination: Path, source: Path = REPO) -> Path:
    """A fresh checkout of the working tree at `destination`, without any .venv.

    Tasks write where a user's would (`runs/`, `.pytest_cache`, `.mlmax/`): running them in
    a copy keeps the source tree clean. Tracked and new (not ignored) files are copied. The
    copy has no virtualenv of its own: tasks run with the selected interpreter (the suite's),
    as in a checkout whose environment lives elsewhere.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        origin = source / name
        if not origin.is_file():  # deleted in the working tree but still in the index
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)
    return destination


def line_inside(test_file: Path, test_name: str) -> int:
    """A line inside the body of the test function `test_name`: where a cursor would be."""
    for number, text in enumerate(test_file.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(rf"\s*def {re.escape(test_name)}\(", text):
            return number + 1
    raise ValueError(f"{test_file} has no test function {test_name!r}")


def nested_run(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(NESTED_ENV) == "1"

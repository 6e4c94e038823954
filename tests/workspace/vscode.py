"""Reading the workspace files and running their tasks the way VS Code does.

VS Code runs a `"type": "process"` task as its `command` with its `args`, after substituting
`${workspaceFolder}`, `${file}`, `${input:<id>}` and friends, in `options.cwd`. These helpers
do the same, so a test exercises the very command line a user gets from the task palette.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.workspace import jsonc

REPO = Path(__file__).resolve().parents[2]
VSCODE = REPO / ".vscode"
DEVCONTAINER = REPO / ".devcontainer"
# The shared schema lives next to the project, never inside it (see issue 6).
DEVCONTAINER_SCHEMA = REPO.parent / "shared" / "schemas" / "devContainer.base.schema.json"

# Set in the environment of every task a test runs: a test that itself runs tasks (and so
# the suite again) skips inside such a nested run instead of recursing.
NESTED_ENV = "MLMAX_WORKSPACE_TASK_RUN"

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def jsonc_files() -> list[Path]:
    """Every JSON-with-comments file of the workspace."""
    return sorted([*VSCODE.glob("*.json"), DEVCONTAINER / "devcontainer.json"])


def tasks() -> dict[str, Any]:
    return jsonc.load(VSCODE / "tasks.json")


def launch() -> dict[str, Any]:
    return jsonc.load(VSCODE / "launch.json")


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


def input_default(input_id: str) -> str:
    for item in tasks().get("inputs", []):
        if item["id"] == input_id:
            return item["default"]
    raise KeyError(f"tasks.json has no input {input_id!r}")


def substitute(value: str, workspace: Path, file: Path | None = None) -> str:
    """VS Code's variable substitution for the variables this workspace uses.

    An unknown variable is an error: VS Code would refuse to run the task, so must we.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "workspaceFolder":
            return str(workspace)
        if name == "workspaceFolderBasename":
            return workspace.name
        if name in ("file", "relativeFile"):
            if file is None:
                raise ValueError(f"${{{name}}} needs a file open in the editor")
            return str(file) if name == "file" else str(file.relative_to(workspace))
        if name.startswith("input:"):
            return input_default(name.removeprefix("input:"))
        raise ValueError(f"unsupported variable ${{{name}}} in {value!r}")

    return _VARIABLE.sub(replace, value)


def substitute_all(value: Any, workspace: Path, file: Path | None = None) -> Any:
    """`substitute` applied to every string inside a JSON value."""
    if isinstance(value, str):
        return substitute(value, workspace, file)
    if isinstance(value, list):
        return [substitute_all(v, workspace, file) for v in value]
    if isinstance(value, dict):
        return {k: substitute_all(v, workspace, file) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class TaskCommand:
    argv: list[str]
    cwd: Path
    env: dict[str, str]


def task_command(label: str, workspace: Path, file: Path | None = None) -> TaskCommand:
    """The process VS Code starts for the task labelled `label` in `workspace`."""
    definition = task(label)
    if definition.get("type") != "process":
        raise ValueError(f"task {label!r} is not a process task; this helper runs only those")
    argv = [definition["command"], *definition.get("args", [])]
    argv = [substitute(part, workspace, file) for part in argv]
    options = definition.get("options", {})
    cwd = Path(substitute(options.get("cwd", "${workspaceFolder}"), workspace, file))
    env = dict(os.environ)
    env.update({k: substitute(v, workspace, file) for k, v in options.get("env", {}).items()})
    env[NESTED_ENV] = "1"
    return TaskCommand(argv, cwd, env)


def copy_workspace(destination: Path, source: Path = REPO, *, share_venv: bool = True) -> Path:
    """A fresh checkout of the working tree at `destination`, sharing the project's .venv.

    Tasks write where a user's would (`runs/`, `.pytest_cache`, `.mlmax/`): running them in
    a copy keeps the source tree clean. Tracked and new (not ignored) files are copied;
    without `share_venv` the copy has no .venv (a dev container makes its own).
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
    if share_venv:
        (destination / ".venv").symlink_to(source / ".venv")
    return destination


def nested_run(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(NESTED_ENV) == "1"

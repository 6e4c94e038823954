"""`mlmax vscode`: .vscode/launch.json, tasks.json and settings.json for a project's jobs.

The files are JSONC (comments allowed) and belong to the user. mlmax writes its entries
inside one marked block per file and never touches anything outside it:

    // mlmax vscode: begin (generated from [tool.mlmax] in pyproject.toml; rerun to update)
    ...
    // mlmax vscode: end

A rerun replaces only the block (idempotent); the user's own entries and comments stay.
The result is parsed with `json5` (the JSONC reader the workspace tests use) before
anything is written, so a file is never left unreadable. Settings the user already sets
outside the block are left to the user and reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json5

from mlmax.common import UsageError
from mlmax.localmode.debug import DEFAULT_INSPECT_PORT
from mlmax.project import PROCESSING_CODE_ROOT, TRAINING_CODE_ROOT, Project

BEGIN = "// mlmax vscode: begin (generated from [tool.mlmax] in pyproject.toml; rerun to update)"
END = "// mlmax vscode: end"
PYTHON = "${command:python.interpreterPath}"
INSPECT_TASK = "mlmax: inspect the container test at the cursor"
READY_PATTERN = "debugpy listening on 127\\.0\\.0\\.1:\\d+"
_BLOCK = re.compile(r"[ \t]*" + re.escape(BEGIN) + r".*?" + re.escape(END) + r"[ \t]*\n?", re.S)
# Where a file's top-level object opens, after any leading comments.
_TOP = re.compile(r"\A(?:\s|//[^\n]*\n|/\*.*?\*/)*\{", re.S)


class VscodeError(UsageError, ValueError):
    """A .vscode file cannot be updated; the message names the file and the fix."""


@dataclass
class Change:
    """What `mlmax vscode` did (or, with --check, would do) to one file."""

    path: Path
    before: str | None
    after: str
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _workspace_path(project: Project, path: Path) -> str:
    return "${workspaceFolder}/" + path.relative_to(project.root).as_posix()


def path_mappings(project: Project) -> list[dict[str, str]]:
    """Each declared job's code root in the container -> its source folder, once each."""
    pairs = {
        (
            _workspace_path(project, job.source_dir),
            TRAINING_CODE_ROOT if job.kind == "training" else PROCESSING_CODE_ROOT,
        ): None
        for job in project.jobs.values()
    }
    return [{"localRoot": local, "remoteRoot": remote} for local, remote in pairs]


def launch_entries(project: Project) -> list[dict[str, Any]]:
    attach = {
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": "127.0.0.1", "port": DEFAULT_INSPECT_PORT},
        "pathMappings": path_mappings(project),
        "justMyCode": False,
    }
    return [
        {"name": "mlmax: attach to a Local Mode job", **attach},
        {"name": "mlmax: inspect the container test at the cursor", **attach,
         "preLaunchTask": INSPECT_TASK},
        {"name": "mlmax: debug a test (unit or container)", "type": "debugpy", "request": "launch",
         "purpose": ["debug-test"], "console": "integratedTerminal", "justMyCode": False},
    ]  # fmt: skip


def task_entries(project: Project) -> list[dict[str, Any]]:
    def pytest_task(label: str, args: list[str], **extra: Any) -> dict[str, Any]:
        return {
            "label": label,
            "type": "process",
            "command": PYTHON,
            "args": ["-m", "pytest", *args],
            "options": {"cwd": "${workspaceFolder}"},
            "problemMatcher": [],
            **extra,
        }

    inspect = pytest_task(
        INSPECT_TASK,
        ["${file}", "--test-at", "${file}:${lineNumber}", "--smlocal", "--inspectlocal"],
        isBackground=True,
        presentation={"reveal": "always", "panel": "dedicated"},
    )
    # VS Code treats the task as ready (and the launch configuration attaches) on this line.
    inspect["problemMatcher"] = {
        "owner": "mlmax-inspect",
        "pattern": {"regexp": "(\\S+\\.py):(\\d+): (.*)", "file": 1, "line": 2, "message": 3},
        "background": {
            "activeOnStart": True,
            "beginsPattern": "test session starts",
            "endsPattern": READY_PATTERN,
        },
    }
    return [
        pytest_task("mlmax: run unit tests", [], group={"kind": "test", "isDefault": True}),
        pytest_task("mlmax: run container tests", ["--smlocal", "-m", "smlocal"], group="test"),
        inspect,
    ]


def setting_entries(project: Project) -> dict[str, Any]:
    return {
        "python.testing.pytestEnabled": True,
        "python.testing.unittestEnabled": False,
        "python.testing.pytestArgs": ["--smlocal"],
        "python.testing.cwd": "${workspaceFolder}",
    }


def _render(items: list[str], indent: str) -> str:
    lines = [indent + BEGIN]
    for item in items:
        lines += [indent + line for line in (item + ",").splitlines()]
    lines.append(indent + END)
    return "\n".join(lines) + "\n"


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2)


def _array_update(path: Path, text: str | None, key: str, entries: list[dict[str, Any]]) -> str:
    """Put `entries` in the marked block at the start of the top-level array `key`."""
    block = _render([_dump(entry) for entry in entries], "    ")
    if text is None:
        version = "0.2.0" if key == "configurations" else "2.0.0"
        return f'{{\n  "version": "{version}",\n  "{key}": [\n{block}  ]\n}}\n'
    if _BLOCK.search(text):
        return _BLOCK.sub(lambda _match: block, text, count=1)
    opening = re.search(r'^\s*"' + key + r'"\s*:\s*\[[ \t]*\n?', text, re.M)
    if opening:
        return text[: opening.end()] + block + text[opening.end() :]
    if key in _parse(path, text):
        raise VscodeError(
            f'{path}: cannot find where "{key}" opens; put `"{key}": [` on a line of its own '
            "and rerun `mlmax vscode`"
        )
    top = _top(path, text)
    return text[:top] + f'\n  "{key}": [\n{block}  ],' + text[top:]


def _settings_update(
    path: Path, text: str | None, settings: dict[str, Any]
) -> tuple[str, list[str]]:
    outside = {} if text is None else _parse(path, _BLOCK.sub("", text))
    kept = [name for name in settings if name in outside]
    ours = {name: value for name, value in settings.items() if name not in outside}
    items = [f"{json.dumps(name)}: {_dump(value)}" for name, value in ours.items()]
    block = _render(items, "  ")
    notes = [f"{name} is set outside mlmax's block: left as you set it" for name in kept]
    if text is None:
        return "{\n" + block + "}\n", notes
    if _BLOCK.search(text):
        return _BLOCK.sub(lambda _match: block, text, count=1), notes
    top = _top(path, text)
    return text[:top] + "\n" + block + text[top:].lstrip("\n"), notes


def _top(path: Path, text: str) -> int:
    match = _TOP.match(text)
    if match is None:
        raise VscodeError(f"{path}: does not start with an object; fix it or move it away")
    return match.end()


def _parse(path: Path, text: str) -> Any:
    try:
        return json5.loads(text)
    except ValueError as error:
        raise VscodeError(f"{path} is not valid JSONC ({error}); fix it and rerun") from None


def plan(project: Project, folder: Path | None = None) -> list[Change]:
    """The three files as they should be, without writing anything."""
    folder = folder or project.root / ".vscode"
    changes = []
    for name, make in (
        (
            "launch.json",
            lambda p, t: (_array_update(p, t, "configurations", launch_entries(project)), []),
        ),
        ("tasks.json", lambda p, t: (_array_update(p, t, "tasks", task_entries(project)), [])),
        ("settings.json", lambda p, t: _settings_update(p, t, setting_entries(project))),
    ):
        path = folder / name
        before = path.read_text(encoding="utf-8") if path.exists() else None
        if before is not None:
            _parse(path, before)
        after, notes = make(path, before)
        _parse(path, after)  # never write something VS Code cannot read
        changes.append(Change(path, before, after, notes))
    return changes


def apply(changes: list[Change]) -> None:
    for change in changes:
        if change.changed:
            change.path.parent.mkdir(parents=True, exist_ok=True)
            change.path.write_text(change.after, encoding="utf-8")

"""`mlmax vscode`: write or check the project's .vscode launch, tasks and settings files."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mlmax.cli.common import EXIT_FAILURE, EXIT_OK
from mlmax.common import UsageError

if TYPE_CHECKING:
    from mlmax.cli.common import Commands
    from mlmax.cli.vscode_files import Change


def register(commands: Commands) -> None:
    vscode = commands.add_parser(
        "vscode",
        help="write .vscode launch, tasks and settings for this project's jobs",
        description="Write or update .vscode/launch.json, tasks.json and settings.json for "
        "the jobs declared in [tool.mlmax.jobs] of the nearest pyproject.toml: attach and "
        "inspect configurations with each job's path mapping, test tasks, Test Explorer "
        "settings. Only mlmax's marked block in each file changes; your entries and comments "
        "stay. Exit code 1 with --check if anything would change.",
    )
    vscode.add_argument(
        "--check", action="store_true", help="show what would change, write nothing"
    )
    vscode.set_defaults(handler=run_vscode)


def _show(change: Change, where: str, check: bool) -> None:
    """One line a file (what happened or would), its notes, and with --check the diff."""
    import difflib

    if not change.changed:
        state = "unchanged"
    elif check:
        state = "would create" if change.before is None else "would update"
    else:
        state = "created" if change.before is None else "updated"
    print(f"{state:>12}  {where}")
    for note in change.notes:
        print(f"              {note}")
    if check and change.changed:
        sys.stdout.writelines(
            difflib.unified_diff(
                (change.before or "").splitlines(keepends=True),
                change.after.splitlines(keepends=True),
                f"{where} (now)",
                f"{where} (mlmax vscode)",
            )
        )


def run_vscode(args: argparse.Namespace) -> int:
    from mlmax.cli.vscode_files import apply, plan
    from mlmax.project import current_project

    project = current_project()
    if project is None or not project.jobs:
        raise UsageError(
            "no jobs are declared here; add [tool.mlmax.jobs.<name>] tables to your "
            "pyproject.toml (see docs/your-project.md)"
        )
    changes = plan(project)
    if not args.check:
        apply(changes)
    for change in changes:
        _show(change, str(change.path.relative_to(project.root)), args.check)
    if args.check and any(change.changed for change in changes):
        return EXIT_FAILURE
    return EXIT_OK

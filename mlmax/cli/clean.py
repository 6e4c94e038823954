"""`mlmax clean`, and the sweep of what killed sessions left that other commands run first."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlmax.cli.common import EXIT_OK, progress

if TYPE_CHECKING:
    from mlmax.cli.common import Commands
    from mlmax.localmode.run import Leftover


def register(commands: Commands) -> None:
    clean = commands.add_parser(
        "clean",
        help="remove what killed sessions left",
        description="List, then remove, what mlmax sessions killed without clean-up (SIGKILL, "
        "a crash) left on this machine: their containers, compose processes and temp dirs; "
        "their run records under --runs are marked killed. Live sessions are never touched.",
    )
    clean.add_argument(
        "--runs",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the pipeline's run directories are (default runs/)",
    )
    clean.set_defaults(handler=run_clean)


def run_clean(args: argparse.Namespace) -> int:
    from mlmax.common import print_table

    found = leftovers(args.runs, remove=False)
    _say_what_is_left_alone()
    if not found:
        print("nothing to clean: no killed session left anything")
        return EXIT_OK
    rows = [[f.kind, f.name, str(f.owner_pid or "-")] for f in found]
    print_table(["kind", "what", "owner pid"], rows)
    leftovers(args.runs, remove=True)
    print(f"✓ removed {len(found)} leftover(s) of killed sessions (run records marked killed)")
    return EXIT_OK


def _say_what_is_left_alone() -> None:
    from mlmax.localmode.run import unjudged_containers

    unseen = unjudged_containers()
    if unseen:
        print(
            f"left alone: {len(unseen)} container(s) of sessions in other pid namespaces, "
            "whose processes cannot be seen from here; run `mlmax clean` as root on the host "
            "(the root pid namespace) to sweep them if their sessions were killed"
        )


def leftovers(runs_dir: Path | None, *, remove: bool) -> list[Leftover]:
    """Containers, temp dirs and run records of killed sessions; removed/marked if `remove`.

    Without a reachable Docker engine only the temp dirs and run records are looked at.
    """
    from mlmax.localmode.run import Leftover, find_leftovers, reap
    from mlmax.pipeline import DEFAULT_RUNS_DIR, RECORD_FILE, killed_runs, mark_killed

    found = reap() if remove else find_leftovers()
    for run_dir, pid in killed_runs(runs_dir or DEFAULT_RUNS_DIR):
        if remove:
            mark_killed(run_dir)
        found.append(Leftover("run record", str(run_dir / RECORD_FILE), pid))
    return found


def sweep_killed_sessions(runs_dir: Path | None) -> None:
    """Sweep what SIGKILLed sessions left and say so in one line (nothing when none)."""
    from mlmax.localmode.run import describe_leftovers

    swept = leftovers(runs_dir, remove=True)
    if swept:
        progress(describe_leftovers(swept))

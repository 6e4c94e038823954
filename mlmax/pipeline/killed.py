"""Run records of killed runs: `pipeline.json` says "running" but its process is gone.

A SIGKILLed run cannot write its own ending; the next run (or `mlmax clean`) finds its record
by the owner it names and marks it "killed", so no record says "running" for ever.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlmax.localmode.engine import Owner
from mlmax.pipeline.live_runs import forget, noted_run_dirs
from mlmax.pipeline.run_record import RECORD_FILE, load_record, write_record


def killed_runs(runs_dir: Path) -> list[tuple[Path, int]]:
    """Run directories whose record is "running" with a dead owner: under `runs_dir`, and
    wherever else a run noted its directory (live_runs)."""
    found: dict[Path, tuple[Path, int]] = {}
    noted = noted_run_dirs()
    for run_dir in [p.parent for p in sorted(runs_dir.glob(f"*/{RECORD_FILE}"))] + noted:
        status, owner = _running_owner(run_dir)
        if status != "running" and run_dir in noted:
            forget(run_dir)  # it ended, or was deleted, after it was noted
        elif status == "running" and owner is not None and owner.is_dead_here():
            found.setdefault(run_dir.resolve(), (run_dir, owner.pid))
    return list(found.values())


def _running_owner(run_dir: Path) -> tuple[object, Owner | None]:
    try:
        data = json.loads((run_dir / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    return data.get("status"), Owner.from_json(data.get("owner"))


def mark_killed(run_dir: Path) -> None:
    """End the record: the run and its running steps were killed."""
    record = load_record(run_dir)
    record.status = "killed"
    record.error = "the process running it was killed (SIGKILL or a crash); nothing cleaned up"
    for step in record.steps:
        if step.status == "running":
            step.status = "failed"
            step.error = "killed"
    write_record(run_dir, record)
    forget(run_dir)

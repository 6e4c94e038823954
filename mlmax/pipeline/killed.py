"""Run records of killed runs: `pipeline.json` says "running" but its process is gone.

A SIGKILLed run cannot write its own ending; the next run (or `mlmax clean`) finds its record
by the owner it names and marks it "killed", so no record says "running" for ever.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlmax.localmode.engine import Owner
from mlmax.pipeline.run_record import RECORD_FILE, load_record, write_record


def killed_runs(runs_dir: Path) -> list[tuple[Path, int]]:
    """Run directories under `runs_dir` whose record is "running" with a dead owner."""
    found = []
    for record_file in sorted(runs_dir.glob(f"*/{RECORD_FILE}")):
        try:
            data = json.loads(record_file.read_text())
        except (OSError, ValueError):
            continue
        owner = Owner.from_json(data.get("owner")) if isinstance(data, dict) else None
        if data.get("status") == "running" and owner is not None and owner.is_dead_here():
            found.append((record_file.parent, owner.pid))
    return found


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

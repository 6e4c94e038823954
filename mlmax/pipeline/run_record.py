"""pipeline.json: what a run did, step by step, rewritten after every step.

`RunRecord` (and its `StepRecord`s) is all a later reader needs: the report, `mlmax clean`
finding killed runs, `mlmax serve` finding the latest trained model. Written atomically, so
a reader never sees half a record.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORD_FILE = "pipeline.json"


@dataclass
class StepRecord:
    name: str
    job: str
    status: str = "pending"  # pending -> running -> succeeded | failed
    duration_seconds: float | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    log: str | None = None
    error: str | None = None
    exit_code: int | None = None  # the job's, when it failed (2: it refused its input)


@dataclass
class RunRecord:
    """Everything pipeline.json says about one run."""

    pipeline: str
    run_id: str
    runner: str
    status: str  # running -> succeeded | failed | interrupted (| killed: swept later)
    started_at: str
    inputs: dict[str, str]
    steps: list[StepRecord]
    options: dict[str, Any] = field(default_factory=dict)
    finished_at: str | None = None
    duration_seconds: float | None = None
    error: str | None = None
    report: str | None = None
    # The process running it (labels.Owner), so a later run can tell a killed run's record.
    owner: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str) -> StepRecord:
        return next(s for s in self.steps if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        steps = [StepRecord(**s) for s in data["steps"]]
        return cls(**{**data, "steps": steps})


def load_record(run_dir: Path) -> RunRecord:
    return RunRecord.from_json(json.loads((run_dir / RECORD_FILE).read_text()))


def now() -> str:
    """The current UTC time as the record writes it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_record(run_dir: Path, record: RunRecord) -> None:
    _write_atomic(run_dir / RECORD_FILE, json.dumps(record.to_json(), indent=2) + "\n")

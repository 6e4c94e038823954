"""Where the benchmarks put their figures: `benchmarks/results/<name>.json`.

Every figure carries what it was measured on: the date, the commit (the commit of main it
stands on, and whether the working tree differed) and the machine's 1-minute load average
while its samples were taken.
The documentation's benchmark page is rendered from these files (docs/hooks/benchmarks.py), so
no figure is ever copied by hand.

A figure is one cell of a table: `table` and `what` name its row, `column` its column, `value`
and `unit` the figure, and `samples` (when it is a median) the measurements it came from.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().with_name("results")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


# What a measurement runs: a change here, not yet committed, makes the commit not the code.
MEASURED = ("mlmax", "benchmarks", "tests", "pyproject.toml", "requirements.lock")


def commit() -> dict[str, Any]:
    """The commit measured; `base`, the commit of main it stands on (a branch's own commits
    are rewritten when it is rebased, main's are not); and whether the code measured differed
    from the commit (`dirty`)."""
    head = _git("rev-parse", "HEAD")
    changed = _git("status", "--porcelain", "--", *MEASURED, ":(exclude)benchmarks/results")
    base = _git("merge-base", "HEAD", "main") or head
    return {"commit": head, "base": base, "dirty": bool(changed)}


def load() -> float:
    """The 1-minute load average now."""
    return round(os.getloadavg()[0], 2)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Samples:
    """Measurements of one thing, each with the load average when it was taken."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.loads: list[float] = []

    def add(self, value: float) -> float:
        self.values.append(value)
        self.loads.append(load())
        return value


class Results:
    """One benchmark's figures, written to `benchmarks/results/<name>.json`."""

    def __init__(self, name: str, description: str, argv: list[str] | None = None) -> None:
        self.name = name
        self.description = description
        script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else f"{name}.py"
        arguments = sys.argv[1:] if argv is None else argv
        self.command = " ".join([".venv/bin/python", f"benchmarks/{script}", *arguments])
        self.started = now()
        self.revision = commit()
        self.figures: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}

    def add(
        self,
        table: str,
        what: str,
        column: str,
        value: float,
        unit: str,
        *,
        samples: Samples | None = None,
        note: str = "",
    ) -> None:
        """One figure; a median when `samples` are given (their loads become its load)."""
        figure: dict[str, Any] = {
            "table": table,
            "what": what,
            "column": column,
            "value": value,
            "unit": unit,
            "date": now(),
            **self.revision,
        }
        if samples is not None and samples.values:
            figure["samples"] = [round(v, 4) for v in samples.values]
            figure["load_average"] = [min(samples.loads), max(samples.loads)]
        else:
            figure["load_average"] = [load(), load()]
        if note:
            figure["note"] = note
        self.figures.append(figure)

    def add_median(self, table: str, what: str, column: str, samples: Samples, unit: str) -> None:
        """The median of `samples`."""
        self.add(table, what, column, statistics.median(samples.values), unit, samples=samples)

    def write(self, directory: Path = RESULTS) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        document = {
            "benchmark": self.name,
            "description": self.description,
            "command": self.command,
            "started": self.started,
            "finished": now(),
            "cores": os.cpu_count(),
            "figures": self.figures,
            **self.extra,
        }
        path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"figures: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
        return path

"""Helpers for the job tests: make input files, run a job as a script, check outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from mlmax_census.data import generate
from mlmax_census.jobs import schema

JOBS_DIR = Path(__file__).resolve().parents[3] / "mlmax_census" / "jobs"

# Plausible values for the KDD columns the jobs do not use.
_KDD_FILLERS = {
    "detailed industry recode": "0",
    "detailed occupation recode": "0",
    "wage per hour": "0",
    "enroll in edu inst last wk": "Not in universe",
    "marital stat": "Never married",
    "major occupation code": "Not in universe",
    "race": "White",
    "hispanic origin": "All other",
    "sex": "Female",
    "member of a labor union": "Not in universe",
    "reason for unemployment": "Not in universe",
    "full or part time employment stat": "Children or Armed Forces",
    "tax filer stat": "Nonfiler",
    "region of previous residence": "Not in universe",
    "state of previous residence": "Not in universe",
    "detailed household and family stat": "Householder",
    "detailed household summary in household": "Householder",
    "instance weight": "1700.09",
    "migration code-change in msa": "?",
    "migration code-change in reg": "?",
    "migration code-move within reg": "?",
    "live in this house 1 year ago": "Not in universe under 1 year old",
    "migration prev res in sunbelt": "?",
    "family members under 18": "Not in universe",
    "country of birth father": "United-States",
    "country of birth mother": "?",
    "country of birth self": "United-States",
    "citizenship": "Native- Born in the United States",
    "own business or self employed": "0",
    "fill inc questionnaire for veteran's admin": "Not in universe",
    "veterans benefits": "2",
    "weeks worked in year": "52",
    "year": "95",
}


def write_kdd_file(path: Path, rows: int, seed: int = 0, missing_every: int = 0) -> Path:
    """A headerless 42-column file in the format of census-income.data.

    Every field after the first starts with a space, as in the extract; with
    `missing_every`, every n-th row has `?` as its class of worker.
    """
    data = generate(rows, seed=seed)
    lines = []
    for number, row in enumerate(data.itertuples(index=False)):
        values = dict(zip(schema.REQUIRED, row, strict=True))
        if missing_every and number % missing_every == 0:
            values["class of worker"] = "?"
        fields = [
            str(values.get(name, _KDD_FILLERS.get(name))).strip() for name in schema.KDD_COLUMNS
        ]
        lines.append(", ".join(fields[:-1]) + ", " + str(values[schema.LABEL]).strip())
    path.write_text("\n".join(lines) + "\n")
    return path


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def run_script(job: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python mlmax_census/jobs/<job>.py args` as the container does (flat imports)."""
    return subprocess.run(
        [sys.executable, str(JOBS_DIR / f"{job}.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def files_in(*directories: Path) -> list[Path]:
    """Every file (hidden ones included) under the directories that exist."""
    return [p for d in directories if d.exists() for p in d.rglob("*") if p.is_file()]


def assert_nothing_written(*directories: Path) -> None:
    leftovers = files_in(*directories)
    assert leftovers == [], f"output files left behind: {leftovers}"


def assert_one_error_line(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {stderr!r}"
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]

"""The census sample is found beside mlmax: its folder and declarations without running its code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_catalogue_reads_the_sample_without_importing_it(tmp_path: Path) -> None:
    # A fresh process: the catalogue of the sample's jobs is there, yet no module of the
    # sample ran (the tool reads its jobs.toml from its folder beside mlmax).
    script = (
        "import sys, mlmax\n"
        "from mlmax.project import JOBS, SAMPLE_ROOT, get_job\n"
        "print(mlmax.__file__)\n"
        "print(SAMPLE_ROOT)\n"
        "print(get_job('train').script_path)\n"
        "print(sorted(JOBS))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlmax_census'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    tool, root, train, jobs, imported = done.stdout.splitlines()
    beside = Path(tool).resolve().parents[1] / "mlmax_census"  # shipped beside mlmax
    assert Path(root) == beside
    assert Path(train) == beside / "jobs" / "train.py"
    assert "preprocessing" in jobs and "monitoring" in jobs
    assert imported == "[]"


def test_load_sample_imports_the_named_module_of_the_sample() -> None:
    from mlmax.project import load_sample

    census = load_sample("pipeline")
    assert census.__name__ == "mlmax_census.pipeline"
    assert next(step.name for step in census.census_pipeline().order()) == "preprocessing"

"""monitoring.py: PSI, baseline statistics, drift flags, saved baselines, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmax_census.data import generate, write_csv
from mlmax_census.jobs import monitoring, schema
from mlmax_census.jobs.jobs_common import JobInputError

from .helpers import assert_one_error_line, run_script, write_kdd_file


def _monitor(baseline: Path, source: Path, out: Path, *extra: str) -> dict:
    monitoring.main(
        monitoring.parse_args(
            ["--baseline-dir", str(baseline), "--input-dir", str(source), "--output-dir",
             str(out), *extra]
        )
    )  # fmt: skip
    return json.loads((out / "drift.json").read_text())


@pytest.fixture(scope="module")
def baseline_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("baseline") / "baseline.csv", rows=8000, seed=20)


def test_psi_is_zero_for_equal_bins_and_grows_with_the_difference() -> None:
    assert monitoring.psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    small = monitoring.psi([0.5, 0.5], [0.45, 0.55])
    large = monitoring.psi([0.5, 0.5], [0.1, 0.9])
    assert 0 < small < large
    expected = (0.1 - 0.5) * math.log(0.1 / 0.5) + (0.9 - 0.5) * math.log(0.9 / 0.5)
    assert large == pytest.approx(expected)
    # An empty bin on either side stays finite thanks to the epsilon.
    assert math.isfinite(monitoring.psi([0.0, 1.0], [0.5, 0.5]))


def test_bin_fractions_follow_the_edge_convention() -> None:
    values = pd.Series([0.0, 1.0, 1.5, 2.0, 3.0, np.nan])
    assert monitoring.bin_fractions(values, [1.0, 2.0]) == [0.4, 0.4, 0.2]


def test_baseline_statistics_of_zero_heavy_and_plain_columns() -> None:
    data = pd.DataFrame({name: np.zeros(100) for name in schema.NUMERIC})
    data["age"] = np.arange(100.0)
    data.loc[:94, "capital gains"] = 0.0
    data.loc[95:, "capital gains"] = 5000.0
    data.loc[0, "dividends from stocks"] = np.nan
    baseline = monitoring.compute_baseline(data, bins=10)
    age = baseline["features"]["age"]
    assert (age["count"], age["min"], age["max"], age["missing"]) == (100, 0.0, 99.0, 0)
    assert age["mean"] == pytest.approx(49.5)
    assert len(age["bin_edges"]) == 9 and len(age["bin_fractions"]) == 10
    assert sum(age["bin_fractions"]) == pytest.approx(1.0)
    gains = baseline["features"]["capital gains"]
    assert gains["bin_edges"] == [0.0]  # repeated quantiles collapse into one edge
    assert gains["bin_fractions"] == [0.95, 0.05]
    assert baseline["features"]["dividends from stocks"]["missing"] == 1


def test_same_population_shows_no_drift(baseline_csv: Path, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "new.csv", rows=8000, seed=21)
    drift = _monitor(baseline_csv, source, tmp_path / "out")
    assert drift["threshold"] == 0.2
    assert set(drift["features"]) == set(schema.NUMERIC)
    assert drift["drift_detected"] is False
    assert all(f["psi"] < 0.05 for f in drift["features"].values())
    baseline = json.loads((tmp_path / "out" / "baseline.json").read_text())
    assert set(baseline["features"]["age"]) == set(monitoring.STAT_KEYS)
    assert baseline["features"]["age"]["count"] == 8000


def test_drifted_population_is_flagged(baseline_csv: Path, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "new.csv", rows=8000, seed=22, drift=1.0)
    drift = _monitor(baseline_csv, source, tmp_path / "out")
    assert drift["drift_detected"] is True
    assert drift["features"]["age"]["drift"] is True
    assert drift["features"]["age"]["psi"] > 0.2
    lenient = _monitor(baseline_csv, source, tmp_path / "lenient", "--psi-threshold", "5")
    assert lenient["drift_detected"] is False


def test_a_saved_baseline_gives_the_same_result_as_the_raw_data(
    baseline_csv: Path, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "new.csv", rows=3000, seed=23, drift=0.5)
    from_raw = _monitor(baseline_csv, source, tmp_path / "first")
    from_json = _monitor(tmp_path / "first", source, tmp_path / "second", "--bins", "4")
    assert from_json == from_raw  # the saved bins win over --bins
    assert (tmp_path / "first/baseline.json").read_text() == (
        tmp_path / "second/baseline.json"
    ).read_text()


def test_kdd_extract_works_as_baseline_and_input(tmp_path: Path) -> None:
    baseline = write_kdd_file(tmp_path / "census-income.data", rows=2000, seed=30)
    source = write_kdd_file(tmp_path / "census-income.test", rows=2000, seed=31)
    drift = _monitor(baseline, source, tmp_path / "out")
    assert drift["drift_detected"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"bins": 10}', "has no 'features' object"),
        ('{"features": {"age": {}}}', "lacks the statistics of feature 'age'"),
    ],
)
def test_bad_saved_baseline_is_refused(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "baseline.json").write_text(content)
    source = write_csv(tmp_path / "new.csv", rows=50, seed=1)
    with pytest.raises(JobInputError, match=message):
        _monitor(tmp_path / "baseline", source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_inconsistent_bins_in_a_saved_baseline_are_refused(tmp_path: Path) -> None:
    data = generate(200, seed=2)
    baseline = monitoring.compute_baseline(data[list(schema.NUMERIC)].astype(float), bins=5)
    baseline["features"]["capital losses"]["bin_fractions"].append(0.0)
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    with pytest.raises(JobInputError, match="inconsistent bins for feature 'capital losses'"):
        monitoring.load_baseline(tmp_path / "baseline.json", bins=10)


def test_monitoring_script_prints_a_table_and_fails_cleanly(
    baseline_csv: Path, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "new.csv", rows=2000, seed=24, drift=1.0)
    done = run_script(
        "monitoring", "--baseline-dir", str(baseline_csv), "--input-dir", str(source),
        "--output-dir", "mon", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "drift detected: yes" in done.stdout
    assert sorted(p.name for p in (tmp_path / "mon").iterdir()) == ["baseline.json", "drift.json"]
    done = run_script(
        "monitoring", "--baseline-dir", str(baseline_csv), "--input-dir", "missing.csv",
        "--output-dir", "mon2", "--bins", "3", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "missing.csv does not exist")
    assert not (tmp_path / "mon2").exists()

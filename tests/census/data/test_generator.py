"""mlmax_census.data: the census-like generator, write_csv and `python -m mlmax_census.data`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmax_census.data import __main__ as cli
from mlmax_census.data import generate, generator, write_csv
from mlmax_census.jobs import csv_input, schema


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return generate(50_000, seed=0)


def test_columns_rows_and_types() -> None:
    data = generate(123, seed=4)
    assert list(data.columns) == list(schema.REQUIRED)
    assert len(data) == 123
    for name in schema.NUMERIC:
        assert pd.api.types.is_integer_dtype(data[name]), name
    assert len(generate(1)) == 1


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    pd.testing.assert_frame_equal(generate(500, seed=9), generate(500, seed=9))
    assert not generate(500, seed=9).equals(generate(500, seed=10))
    pd.testing.assert_frame_equal(
        generate(200, seed=9, drift=0.5), generate(200, seed=9, drift=0.5)
    )


def test_about_six_percent_positives_with_the_extract_labels(big: pd.DataFrame) -> None:
    assert set(big[schema.LABEL]) == {schema.LABEL_NEGATIVE, schema.LABEL_POSITIVE}
    share = (big[schema.LABEL] == schema.LABEL_POSITIVE).mean()
    assert 0.05 <= share <= 0.07


def test_values_look_like_the_kdd_extract(big: pd.DataFrame) -> None:
    for name in schema.CATEGORICAL:
        assert big[name].str.startswith(" ").all(), name
        assert not big[name].str.startswith("  ").any(), name
    assert " Bachelors degree(BA AB BS)" in set(big["education"])
    assert " Not in universe" in set(big["class of worker"])
    assert big["age"].between(0, 90).all()
    assert set(big["num persons worked for employer"]) == set(range(7))
    assert (big["capital gains"] == 0).mean() > 0.9
    assert (big["capital gains"] > 0).any() and (big["capital losses"] > 0).any()
    assert (big[list(schema.SCALED)] >= 0).all().all()


def test_dependencies_a_model_can_learn(big: pd.DataFrame) -> None:
    positive = big[schema.LABEL] == schema.LABEL_POSITIVE
    children = big["age"] < 16
    assert not positive[children].any()
    assert (big.loc[children, "education"] == " Children").all()
    assert (big.loc[children, "class of worker"] == " Not in universe").all()
    bachelors = big["education"] == " Bachelors degree(BA AB BS)"
    high_school = big["education"] == " High school graduate"
    assert positive[bachelors].mean() > 2 * positive[high_school].mean()
    gains = big["capital gains"] > 0
    assert positive[gains].mean() > 2 * positive[~gains].mean()
    no_job = big["class of worker"] == " Not in universe"
    assert (big.loc[no_job, "num persons worked for employer"] == 0).all()


def test_drift_moves_the_numeric_distributions(big: pd.DataFrame) -> None:
    drifted = generate(50_000, seed=0, drift=1.0)
    assert drifted["age"].mean() > big["age"].mean() + 3
    assert (drifted["capital gains"] > 0).mean() > 2 * (big["capital gains"] > 0).mean()
    assert (drifted["dividends from stocks"] > 0).mean() > (big["dividends from stocks"] > 0).mean()
    assert (
        drifted["num persons worked for employer"].mean()
        > big["num persons worked for employer"].mean()
    )


@pytest.mark.parametrize("rows", [0, -5, 2.5, True, "10"])
def test_bad_row_counts_are_refused(rows: object) -> None:
    with pytest.raises(ValueError, match="rows must be a whole number of at least 1"):
        generate(rows)  # type: ignore[arg-type]


@pytest.mark.parametrize("drift", [-0.1, float("nan"), float("inf")])
def test_bad_drift_is_refused(drift: float) -> None:
    with pytest.raises(ValueError, match="drift must be a number of at least 0"):
        generate(10, drift=drift)


def test_write_csv_round_trips_through_the_job_reader(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "census.csv", rows=300, seed=6)
    assert path == tmp_path / "census.csv"
    assert [p.name for p in tmp_path.iterdir()] == ["census.csv"]
    data = csv_input.read_census(path)
    expected = generate(300, seed=6)
    assert len(data) == 300
    assert (data[schema.LABEL] == (expected[schema.LABEL] == schema.LABEL_POSITIVE)).all()
    assert (data["education"] == expected["education"].str.strip()).all()
    assert np.array_equal(data["capital gains"].to_numpy(), expected["capital gains"].to_numpy())


def test_write_csv_refuses_unwritable_targets_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        write_csv(tmp_path, rows=5)
    with pytest.raises(ValueError, match=r"cannot write .* choose a writable path"):
        write_csv(tmp_path / "no" / "such" / "dir.csv", rows=5)
    assert list(tmp_path.iterdir()) == []


def test_write_csv_cleans_up_when_the_rename_fails(tmp_path: Path, monkeypatch) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(generator.os, "replace", refuse)
    with pytest.raises(ValueError, match="Permission denied"):
        write_csv(tmp_path / "x.csv", rows=5)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_the_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / "out.csv"
    assert cli.main(["--rows", "40", "--seed", "3", "--drift", "0.5", "--output", str(target)]) == 0
    assert "wrote 40 rows" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(target), generate(40, seed=3, drift=0.5))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rows", "0"], "rows must be a whole number of at least 1"),
        (["--rows", "5", "--drift", "-1"], "drift must be a number of at least 0"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path: Path, capsys, argv, message) -> None:
    target = tmp_path / "out.csv"
    assert cli.main([*argv, "--output", str(target)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1
    assert not target.exists()


def test_cli_runs_as_a_module_and_reports_an_unwritable_path(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "mlmax_census.data", "--rows", "25", "--seed", "1"]
    done = subprocess.run(
        [*command, "--output", "a.csv"], cwd=tmp_path, capture_output=True, text=True,
        env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "a.csv")) == 25
    done = subprocess.run(
        [*command, "--output", "missing-dir/a.csv"], cwd=tmp_path, capture_output=True,
        text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot write") and done.stderr.count("\n") == 1

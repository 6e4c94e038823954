"""Reading and writing in chunks (`--chunk-rows`): the same bytes out, the same errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlmax_census.data import generate
from mlmax_census.jobs import csv_input, inference, monitoring, preprocessing, schema
from mlmax_census.jobs.jobs_common import JobInputError

from .helpers import write_csv

# Smaller than the test data, so every job reads and writes several chunks; a multiple of 8
# like the default (the BLAS row split, see docs/job-contract.md "Memory").
CHUNK = "1000"
WHOLE = str(10**9)


def _outputs(root: Path) -> dict[str, bytes]:
    """The bytes of every CSV and JSON file under `root`, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.suffix in (".csv", ".json")
    }


def _all_jobs(raw_csv: Path, model_dir: Path, out: Path, chunk_rows: str) -> dict[str, bytes]:
    chunk = ["--chunk-rows", chunk_rows]
    preprocessing.main(
        preprocessing.parse_args(
            ["--input-dir", str(raw_csv), "--train-dir", str(out / "train"),
             "--test-dir", str(out / "test"), "--model-dir", str(out / "proc"), *chunk]
        )
    )  # fmt: skip
    preprocessing.main(
        preprocessing.parse_args(
            ["--mode", "infer", "--input-dir", str(raw_csv), "--proc-model-dir", str(out / "proc"),
             "--output-dir", str(out / "infer"), "--labels-dir", str(out / "labels"), *chunk]
        )
    )  # fmt: skip
    inference.main(
        inference.parse_args(
            ["--model-dir", str(model_dir), "--input-dir", str(out / "infer"),
             "--output-dir", str(out / "predictions"), *chunk]
        )
    )  # fmt: skip
    monitoring.main(
        monitoring.parse_args(
            ["--baseline-dir", str(raw_csv), "--input-dir", str(raw_csv),
             "--output-dir", str(out / "monitoring"), *chunk]
        )
    )  # fmt: skip
    return _outputs(out)


def test_chunked_jobs_write_the_same_bytes_as_whole_tables(
    raw_csv: Path, model_dir: Path, tmp_path: Path
) -> None:
    whole = _all_jobs(raw_csv, model_dir, tmp_path / "whole", WHOLE)
    chunked = _all_jobs(raw_csv, model_dir, tmp_path / "chunked", CHUNK)
    assert len(whole) == 9
    assert chunked.keys() == whole.keys()
    for name in whole:
        assert chunked[name] == whole[name], name


def test_chunk_rows_is_a_positive_row_count() -> None:
    assert inference.parse_args([]).chunk_rows == 50_000
    for bad in ("0", "-5", "many"):
        with pytest.raises(SystemExit):
            preprocessing.parse_args(["--chunk-rows", bad])


def _census(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    return tmp_path / "census.csv", generate(2500, seed=7)


def test_a_bad_value_in_a_later_chunk_names_its_line_in_the_file(tmp_path: Path) -> None:
    path, frame = _census(tmp_path)
    frame["age"] = frame["age"].astype(object)
    frame.loc[2345, "age"] = "forty"  # data row 2346, line 2347 under the header
    write_csv(path, frame)
    for chunk_rows in (None, 1000, 7):
        with pytest.raises(JobInputError, match="'forty' on line 2347"):
            csv_input.read_census(path, chunk_rows=chunk_rows)


def test_a_column_empty_in_some_chunks_only_is_read_and_empty_in_all_is_refused(
    tmp_path: Path,
) -> None:
    path, frame = _census(tmp_path)
    frame.loc[:1999, "education"] = "?"  # the first two chunks hold no education
    write_csv(path, frame)
    chunked = csv_input.read_census(path, chunk_rows=1000)
    assert chunked.equals(csv_input.read_census(path))
    frame["education"] = "?"
    write_csv(path, frame)
    with pytest.raises(JobInputError, match=r"column 'education' .* has no values"):
        csv_input.read_census(path, chunk_rows=1000)


def test_optional_labels_go_when_one_file_lacks_them_whatever_the_chunks(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", generate(30, seed=1))
    write_csv(tmp_path / "b.csv", generate(20, seed=2).drop(columns=schema.LABEL))
    chunks = list(csv_input.iter_census(tmp_path, label="optional", chunk_rows=8))
    assert len(chunks) == 4 + 3
    assert all(schema.LABEL not in chunk.columns for chunk in chunks)


def test_numeric_table_chunks_fall_back_to_the_slow_path_at_the_bad_chunk(tmp_path: Path) -> None:
    path = tmp_path / "features.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i / 2}\n" for i in range(25)))
    chunks = list(csv_input.iter_numeric_table(path, 10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [float(v) for c in chunks for v in c["a"]] == [float(i) for i in range(25)]
    path.write_text(path.read_text() + "25,x\n")
    with pytest.raises(JobInputError, match="holds the text 'x' on line 27"):
        list(csv_input.iter_numeric_table(path, 10))

"""preprocessing.py: cleaning, split, transformer, train and infer mode, bad input."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlmax_census.data import generate
from mlmax_census.jobs import preprocessing, schema
from mlmax_census.jobs.jobs_common import JobInputError, tar_writer

from .helpers import assert_nothing_written, assert_one_error_line, run_script, write_csv
from .test_csv_input import BAD_CENSUS_CASES, _bad_census


def _train_args(source: Path, out: Path, *extra: str):
    return preprocessing.parse_args(
        [
            "--input-dir", str(source),
            "--train-dir", str(out / "train"),
            "--test-dir", str(out / "test"),
            "--model-dir", str(out / "model"),
            *extra,
        ]
    )  # fmt: skip


def _infer_args(source: Path, proc_model: Path, out: Path):
    return preprocessing.parse_args(
        ["--mode", "infer", "--input-dir", str(source), "--proc-model-dir", str(proc_model),
         "--output-dir", str(out), "--labels-dir", str(out.parent / "labels")]
    )  # fmt: skip


def test_defaults_are_the_container_paths() -> None:
    args = preprocessing.parse_args([])
    assert args.mode == "train"
    assert args.input_dir == "/opt/ml/processing/input/data"
    assert args.model_dir == "/opt/ml/processing/model"
    assert args.proc_model_dir == "/opt/ml/processing/proc_model"
    assert (args.test_size, args.seed) == (0.2, 42)


@pytest.mark.parametrize("size", ["0", "1", "1.5", "-0.2"])
def test_test_size_outside_zero_one_is_refused(size: str) -> None:
    with pytest.raises(SystemExit) as caught:
        preprocessing.parse_args(["--test-size", size])
    assert caught.value.code == 2


def test_clean_drops_incomplete_and_duplicate_rows() -> None:
    data = pd.DataFrame({"a": [1.0, 1.0, np.nan, 2.0], "b": ["x", "x", "y", None]})
    cleaned = preprocessing.clean(data)
    assert cleaned.to_dict("list") == {"a": [1.0], "b": ["x"]}


def test_train_mode_writes_features_labels_and_model(prepared: SimpleNamespace, raw_csv) -> None:
    train_x = pd.read_csv(prepared.train / "train_features.csv")
    test_x = pd.read_csv(prepared.test / "test_features.csv")
    train_y = pd.read_csv(prepared.train / "train_labels.csv")
    test_y = pd.read_csv(prepared.test / "test_labels.csv")
    cleaned = preprocessing.clean(pd.read_csv(raw_csv).replace("?", np.nan))
    assert len(train_x) + len(test_x) == len(cleaned)
    assert len(test_x) == pytest.approx(0.2 * len(cleaned), abs=1)
    assert (len(train_x), len(test_x)) == (len(train_y), len(test_y))
    assert list(train_y.columns) == [schema.LABEL]
    assert set(train_y[schema.LABEL]) == {0, 1} == set(test_y[schema.LABEL])
    # Stratified: the positive share is the same on both sides.
    assert train_y[schema.LABEL].mean() == pytest.approx(test_y[schema.LABEL].mean(), abs=0.01)
    assert list(train_x.columns) == list(test_x.columns)
    assert not train_x.isna().any().any()
    preprocessor = preprocessing.load_preprocessor(prepared.proc_model)
    assert list(train_x.columns) == list(preprocessor.get_feature_names_out())
    assert "capital gains" in train_x.columns
    assert "education_Bachelors degree(BA AB BS)" in train_x.columns
    assert sum(c.startswith("age_") for c in train_x.columns) == 10
    # One-hot blocks: exactly one 1 per row and categorical column.
    education = train_x[[c for c in train_x.columns if c.startswith("education_")]]
    assert (education.sum(axis=1) == 1).all()
    assert abs(train_x["capital gains"].mean()) < 1e-6  # standardised on the train part


def test_saved_preprocessor_transforms_like_the_fitted_one(tmp_path: Path) -> None:
    raw = generate(600, seed=8)
    data = preprocessing.clean(
        pd.DataFrame({c: raw[c].str.strip() if raw[c].dtype == object else raw[c] for c in raw})
    )
    fitted = preprocessing.fit_preprocessor(data)
    tar_writer(preprocessing.PROC_MODEL_MEMBER, fitted)(tmp_path / preprocessing.PROC_MODEL_ARCHIVE)
    loaded = preprocessing.load_preprocessor(tmp_path)
    before = preprocessing.transform(fitted, data)
    after = preprocessing.transform(loaded, data)
    pd.testing.assert_frame_equal(before, after)


def test_same_seed_gives_identical_outputs_and_another_seed_another_split(
    raw_csv: Path, tmp_path: Path
) -> None:
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        preprocessing.main(_train_args(raw_csv, tmp_path / name, "--seed", seed))
    for part in ("train/train_features.csv", "test/test_labels.csv"):
        assert (tmp_path / "a" / part).read_bytes() == (tmp_path / "b" / part).read_bytes()
    assert (tmp_path / "a/test/test_labels.csv").read_bytes() != (
        tmp_path / "c/test/test_labels.csv"
    ).read_bytes()


def test_infer_mode_transforms_every_row_in_order(
    prepared: SimpleNamespace, tmp_path: Path
) -> None:
    raw = generate(300, seed=11)
    raw.loc[5, "age"] = np.nan  # a missing value is imputed, the row kept
    raw.loc[6, "education"] = " A degree never seen in training"
    source = write_csv(tmp_path / "new.csv", raw)
    preprocessing.main(_infer_args(source, prepared.proc_model, tmp_path / "out"))
    features = pd.read_csv(tmp_path / "out" / "infer_features.csv")
    train_columns = pd.read_csv(prepared.train / "train_features.csv", nrows=1).columns
    assert list(features.columns) == list(train_columns)
    assert len(features) == 300
    education = features[[c for c in features.columns if c.startswith("education_")]]
    assert education.iloc[6].sum() == 0  # unknown category: all zeros, no crash
    assert education.drop(index=6).sum(axis=1).eq(1).all()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["infer_features.csv"]
    labels = pd.read_csv(tmp_path / "labels" / "infer_labels.csv")
    expected = (raw[schema.LABEL] == schema.LABEL_POSITIVE).astype(int)
    assert labels[schema.LABEL].tolist() == expected.tolist()


def test_infer_mode_without_labels_writes_features_only(
    prepared: SimpleNamespace, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "new.csv", generate(20, seed=2).drop(columns=schema.LABEL))
    preprocessing.main(_infer_args(source, prepared.proc_model, tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["infer_features.csv"]
    assert not (tmp_path / "labels").exists()


def test_too_few_rows_per_label_is_an_input_error(tmp_path: Path) -> None:
    frame = generate(40, seed=1)
    frame[schema.LABEL] = schema.LABEL_NEGATIVE
    frame.loc[0, schema.LABEL] = schema.LABEL_POSITIVE
    source = write_csv(tmp_path / "few.csv", frame)
    with pytest.raises(JobInputError, match="each label needs at least 2 rows"):
        preprocessing.main(_train_args(source, tmp_path / "out"))
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("case", sorted(BAD_CENSUS_CASES))
def test_bad_input_writes_nothing(tmp_path: Path, case: str) -> None:
    source = _bad_census(tmp_path, case)
    with pytest.raises(JobInputError) as caught:
        preprocessing.main(_train_args(source, tmp_path / "out"))
    assert BAD_CENSUS_CASES[case] in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_infer_mode_with_a_bad_preprocessor_archive(tmp_path: Path, raw_csv, damage: str) -> None:
    proc_model = tmp_path / "proc_model"
    proc_model.mkdir()
    if damage == "corrupt":
        (proc_model / preprocessing.PROC_MODEL_ARCHIVE).write_bytes(b"\x1f\x8b broken")
    with pytest.raises(JobInputError, match=f"is {damage}"):
        preprocessing.main(_infer_args(raw_csv, proc_model, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_archive_holding_something_else_is_refused(tmp_path: Path) -> None:
    tar_writer(preprocessing.PROC_MODEL_MEMBER, [1, 2])(tmp_path / preprocessing.PROC_MODEL_ARCHIVE)
    with pytest.raises(JobInputError, match="does not hold a fitted preprocessor"):
        preprocessing.load_preprocessor(tmp_path)


def test_script_runs_with_flat_imports(raw_csv: Path, tmp_path: Path) -> None:
    done = run_script(
        "preprocessing", "--input-dir", str(raw_csv), "--train-dir", "tr", "--test-dir", "te",
        "--model-dir", "pm", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "train and" in done.stdout
    assert preprocessing.load_preprocessor(tmp_path / "pm").get_feature_names_out().size > 0
    assert len(pd.read_csv(tmp_path / "te" / "test_labels.csv")) > 0


def test_script_reports_bad_input_on_one_line_with_exit_code_2(tmp_path: Path) -> None:
    source = _bad_census(tmp_path, "unknown label")
    done = run_script(
        "preprocessing", "--input-dir", str(source), "--train-dir", "tr", "--test-dir", "te",
        "--model-dir", "pm", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "unknown label ' maybe'", str(source))
    assert_nothing_written(tmp_path / "tr", tmp_path / "te", tmp_path / "pm")

"""The schema, the CSV readers and the shared job plumbing."""

from __future__ import annotations

import ast
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from mlmax_census.data import generate
from mlmax_census.jobs import csv_input, jobs_common, schema
from mlmax_census.jobs.jobs_common import JobInputError

from .helpers import JOBS_DIR, write_csv, write_kdd_file


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (" - 50000.", 0),
        ("- 50000.", 0),
        ("-50000", 0),
        (" 50000+.", 1),
        ("50000+", 1),
        ("0", 0),
        ("1", 1),
        (" >50K", None),
        ("maybe", None),
    ],
)
def test_label_code_accepts_the_extract_spellings_only(text: str, code: int | None) -> None:
    assert schema.label_code(text) == code


def test_kdd_columns_hold_every_required_column_once() -> None:
    assert len(schema.KDD_COLUMNS) == 42
    assert len(set(schema.KDD_COLUMNS)) == 42
    assert set(schema.REQUIRED) <= set(schema.KDD_COLUMNS)
    assert schema.KDD_COLUMNS[-1] == schema.LABEL
    assert set(schema.NUMERIC) | set(schema.CATEGORICAL) == set(schema.FEATURES)


def test_jobs_import_only_the_ml_stack_and_their_siblings() -> None:
    # The folder is shipped alone into the container: nothing else of mlmax, no AWS SDK.
    siblings = {p.stem for p in JOBS_DIR.glob("*.py")}
    allowed = {"pandas", "numpy", "sklearn", "joblib", "matplotlib", "__future__"} | siblings
    allowed |= {"waitress"}  # serving.py's WSGI server, pinned in the image like the ML stack
    stdlib = {"argparse", "csv", "io", "json", "math", "os", "sys", "tarfile", "collections"}
    stdlib |= {"pathlib", "typing", "contextlib", "itertools", "gc"}
    for script in JOBS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]} if node.level == 0 else set()
            else:
                continue
            assert roots <= allowed | stdlib, f"{script.name} imports {roots}"


def test_read_census_header_csv_strips_values_and_ignores_extra_columns(tmp_path: Path) -> None:
    frame = generate(50, seed=1)
    frame.insert(2, "extra column", "x")
    data = csv_input.read_census(write_csv(tmp_path / "a.csv", frame))
    assert list(data.columns) == list(schema.REQUIRED)
    assert not data["education"].str.startswith(" ").any()
    assert set(data[schema.LABEL]) <= {0, 1}
    assert data["age"].dtype == float
    assert (data["age"].to_numpy() == frame["age"].to_numpy()).all()


def test_read_census_reads_a_directory_in_name_order(tmp_path: Path) -> None:
    write_csv(tmp_path / "b.csv", generate(5, seed=2))
    write_csv(tmp_path / "a.csv", generate(3, seed=1))
    (tmp_path / "notes.txt").write_text("not data")
    data = csv_input.read_census(tmp_path)
    assert len(data) == 8
    expected = pd.concat([generate(3, seed=1), generate(5, seed=2)], ignore_index=True)
    assert (data["age"].to_numpy() == expected["age"].to_numpy()).all()


def test_read_census_reads_the_headerless_kdd_extract(tmp_path: Path) -> None:
    path = write_kdd_file(tmp_path / "census-income.data", rows=30, seed=4, missing_every=10)
    data = csv_input.read_census(path)
    assert len(data) == 30
    assert list(data.columns) == list(schema.REQUIRED)
    assert data["class of worker"].isna().sum() == 3  # "?" is missing
    reference = generate(30, seed=4)
    assert (data["dividends from stocks"] == reference["dividends from stocks"]).all()
    assert (data["education"] == reference["education"].str.strip()).all()
    assert (data[schema.LABEL] == (reference[schema.LABEL] == schema.LABEL_POSITIVE)).all()


def test_read_census_optional_label_is_dropped_when_absent(tmp_path: Path) -> None:
    frame = generate(10).drop(columns=schema.LABEL)
    data = csv_input.read_census(write_csv(tmp_path / "a.csv", frame), label="optional")
    assert schema.LABEL not in data.columns
    assert len(data) == 10


def _bad_census(tmp_path: Path, case: str) -> Path:
    """A raw input with one problem; see BAD_CENSUS_CASES."""
    frame = generate(20, seed=5)
    path = tmp_path / "input.csv"
    if case == "missing file":
        return tmp_path / "nothing-here.csv"
    if case == "empty dir":
        (tmp_path / "empty").mkdir()
        return tmp_path / "empty"
    if case == "empty file":
        path.write_text("")
    elif case == "blank lines only":
        path.write_text("\n\n  \n")
    elif case == "header only":
        path.write_text(",".join(schema.REQUIRED) + "\n")
    elif case == "missing column":
        write_csv(path, frame.drop(columns="capital gains"))
    elif case == "text in numeric column":
        frame["age"] = frame["age"].astype(object)
        frame.loc[7, "age"] = "forty"
        write_csv(path, frame)
    elif case == "all-NaN column":
        frame["education"] = "?"
        write_csv(path, frame)
    elif case == "unknown label":
        frame.loc[3, schema.LABEL] = " maybe"
        write_csv(path, frame)
    elif case == "neither header nor KDD":
        path.write_text("1,2,3\n4,5,6\n")
    elif case == "binary file":
        path.write_bytes(b"\xff\xfe\x00\x81" * 50)
    elif case == "Latin-1 text":  # the header is plain ASCII: pandas meets the byte, not csv
        frame["education"] = frame["education"].astype(object)
        frame.loc[12, "education"] = "Licenciatura en café"
        write_csv(path, frame)
        path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    else:  # ragged rows
        path.write_text(",".join(schema.REQUIRED) + "\n1,2\n" + "1," * 12 + "1\n")
    return path


BAD_CENSUS_CASES = {
    "missing file": "does not exist",
    "empty dir": "holds no .csv or .data file",
    "empty file": "is empty",
    "blank lines only": "is empty",
    "header only": "has a header but no data rows",
    "missing column": "lacks the required column(s) 'capital gains'",
    "text in numeric column": "column 'age' in",
    "all-NaN column": "column 'education' in",
    "unknown label": "unknown label ' maybe' on line 5",
    "neither header nor KDD": "neither a header",
    "binary file": "is not UTF-8 text (it holds the byte 0xff,",
    "Latin-1 text": "is not UTF-8 text (it holds the byte 0xe9, as Latin-1 or Windows text does)",
    "ragged rows": "cannot be parsed as CSV",
}


@pytest.mark.parametrize("case", BAD_CENSUS_CASES)
def test_read_census_rejects_bad_input_with_one_clear_sentence(tmp_path: Path, case: str) -> None:
    path = _bad_census(tmp_path, case)
    with pytest.raises(JobInputError) as caught:
        csv_input.read_census(path)
    message = str(caught.value)
    assert BAD_CENSUS_CASES[case] in message
    assert "\n" not in message
    if case == "text in numeric column":
        assert "'forty' on line 9" in message
    if case == "all-NaN column":
        assert "has no values" in message


def test_read_numeric_table_and_labels_reject_bad_tables(tmp_path: Path) -> None:
    features = tmp_path / "f.csv"
    features.write_text("a,b\n1,2\n3,\n")
    with pytest.raises(JobInputError, match=r"column 'b' .* has empty values"):
        csv_input.read_numeric_table(features)
    features.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(JobInputError, match="holds the text 'x' on line 3"):
        csv_input.read_numeric_table(features)
    labels = tmp_path / "l.csv"
    labels.write_text("label\n0\n")
    with pytest.raises(JobInputError, match="lacks the required column 'income'"):
        csv_input.read_labels(labels)
    labels.write_text("income\n0\n\n1\n2\n")
    with pytest.raises(JobInputError, match="unknown label '2'"):
        csv_input.read_labels(labels)
    labels.write_text("income\n")
    with pytest.raises(JobInputError, match="no data rows"):
        csv_input.read_labels(labels)


def test_write_outputs_is_all_or_nothing(tmp_path: Path) -> None:
    def fail(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("crash while writing")

    first, second = tmp_path / "out" / "first.csv", tmp_path / "out" / "second.csv"
    with pytest.raises(RuntimeError):
        jobs_common.write_outputs({first: lambda p: p.write_text("ok"), second: fail})
    assert not (tmp_path / "out").exists()  # the directory it made goes too

    jobs_common.write_outputs({first: lambda p: p.write_text("ok")})
    assert first.read_text() == "ok"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["first.csv"]


def test_write_outputs_turns_an_unwritable_target_into_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(JobInputError, match=r"cannot write .*choose a writable output"):
        jobs_common.write_outputs({blocker / "sub" / "x.csv": lambda p: p.write_text("x")})


def test_tar_round_trip_and_damaged_archives(tmp_path: Path) -> None:
    archive = tmp_path / "m.tar.gz"
    jobs_common.tar_writer("thing.joblib", {"a": np.arange(3)})(archive)
    assert jobs_common.load_from_tar(archive, "thing.joblib", "fix")["a"].tolist() == [0, 1, 2]
    with pytest.raises(JobInputError, match=r"holds no other\.joblib; fix"):
        jobs_common.load_from_tar(archive, "other.joblib", "fix")
    with pytest.raises(JobInputError, match="is missing; fix"):
        jobs_common.load_from_tar(tmp_path / "none.tar.gz", "thing.joblib", "fix")
    archive.write_bytes(b"definitely not gzip")
    with pytest.raises(JobInputError, match="is corrupt"):
        jobs_common.load_from_tar(archive, "thing.joblib", "fix")
    garbage = tmp_path / "thing.joblib"
    garbage.write_bytes(b"\x80\x04garbage")
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(garbage, arcname="thing.joblib")
    with pytest.raises(JobInputError, match="cannot be loaded"):
        jobs_common.load_from_tar(archive, "thing.joblib", "fix")
    with pytest.raises(JobInputError, match="corrupt or not a joblib file"):
        jobs_common.load_joblib(garbage, "fix")


def test_load_model_rejects_an_object_that_is_no_classifier(tmp_path: Path) -> None:
    joblib.dump({"not": "a model"}, tmp_path / "model.joblib")
    with pytest.raises(JobInputError, match="does not hold a fitted classifier"):
        jobs_common.load_model(tmp_path)


def test_run_main_prints_one_error_line_and_returns_2(capsys: pytest.CaptureFixture) -> None:
    def main(args: object) -> None:
        raise JobInputError(f"bad {args}")

    assert jobs_common.run_main(main, lambda argv: "thing", []) == 2
    assert capsys.readouterr().err == "error: bad thing\n"
    assert jobs_common.run_main(lambda args: None, lambda argv: None, []) == 0

"""Reading the jobs' CSV inputs with one clear error per problem.

Two kinds of table come in: raw census data (a CSV with a header naming at least the
columns a job needs, or the headerless 42-column KDD extract) and the numeric tables the
preprocessor writes (features with a header, labels in one `income` column).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

try:
    from . import schema
    from .jobs_common import JobInputError, data_files
except ImportError:  # run as a script from the flat code folder
    import schema
    from jobs_common import JobInputError, data_files


def _first_row(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
    except UnicodeDecodeError as error:
        raise JobInputError(f"{path} is not a text CSV file ({error}); pass a CSV file") from error
    except csv.Error as error:
        raise JobInputError(f"{path} is not a valid CSV file ({error}); fix the file") from error
    raise JobInputError(f"{path} is empty; it needs a header row and data rows")


def _read_strings(path: Path, **options: object) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, **options)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        message = str(error).strip().splitlines()[0]
        raise JobInputError(f"{path} cannot be parsed as CSV ({message}); fix the file") from error


def _blank_to_nan(column: pd.Series) -> pd.Series:
    stripped = column.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    return stripped.where(~stripped.isin(["", schema.MISSING_MARKER]), np.nan)


def _to_numbers(column: pd.Series, name: str, path: str | Path, first_line: int) -> pd.Series:
    values = _blank_to_nan(column)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise JobInputError(
            f"column {name!r} in {path} holds the text {values.iloc[position]!r} on line "
            f"{position + first_line} where a number is expected; fix or remove that value"
        )
    return numbers.astype(float)


def _labels(column: pd.Series, path: str | Path, first_line: int) -> pd.Series:
    values = _blank_to_nan(column)
    codes = values.map(lambda v: schema.label_code(v) if isinstance(v, str) else np.nan)
    bad = values.notna() & codes.isna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise JobInputError(
            f"column {schema.LABEL!r} in {path} holds the unknown label "
            f"{column.iloc[position]!r} on line {position + first_line}; expected "
            f"{schema.LABEL_NEGATIVE!r} or {schema.LABEL_POSITIVE!r}"
        )
    return codes.astype("Float64").astype(float)


def _check_not_empty_columns(frame: pd.DataFrame, path: str | Path) -> None:
    for name in frame.columns:
        if frame[name].isna().all():
            raise JobInputError(
                f"column {name!r} in {path} has no values (all empty or '?'); "
                "fill it or use a file where it is filled"
            )


def _read_census_file(path: Path, wanted: Sequence[str]) -> tuple[pd.DataFrame, bool]:
    """One raw file: (table of the wanted columns present, whether it has a label column)."""
    first = _first_row(path)
    named = [name for name in schema.REQUIRED if name in first]
    if named:
        names = [str(cell).strip() for cell in first]
        twice = sorted({name for name in names if name and names.count(name) > 1})
        if twice:  # pandas would rename the second one and the job would ignore it silently
            raise JobInputError(
                f"{path} names the column(s) {', '.join(map(repr, twice))} more than once; "
                "give each column once in its header"
            )
        # No usecols: pandas would then let rows with too many fields pass silently.
        frame = _read_strings(path)
        frame.columns = [str(c).strip() for c in frame.columns]
        frame = frame[[c for c in frame.columns if c in wanted]]
        first_line = 2
    elif len(first) == len(schema.KDD_COLUMNS):
        frame = _read_strings(path, header=None, names=list(schema.KDD_COLUMNS))[list(wanted)]
        first_line = 1
    else:
        raise JobInputError(
            f"{path} has neither a header naming the census columns nor the "
            f"{len(schema.KDD_COLUMNS)} columns of the KDD census-income extract; "
            f"add a header with {', '.join(schema.FEATURES)} and {schema.LABEL}"
        )
    return frame, first_line


def census_table(
    frame: pd.DataFrame, features: Iterable[str], source: str | Path, first_line: int
) -> pd.DataFrame:
    """Raw census strings -> the features (numbers as float, NaN where missing) and the label
    when `frame` has one; `source` and `first_line` name the place of a bad value."""
    features = list(features)
    table = pd.DataFrame(index=frame.index)
    for name in features:
        if name in schema.NUMERIC:
            table[name] = _to_numbers(frame[name], name, source, first_line)
        else:
            table[name] = _blank_to_nan(frame[name])
    if schema.LABEL in frame.columns:
        table[schema.LABEL] = _labels(frame[schema.LABEL], source, first_line)
    _check_not_empty_columns(table[features], source)
    return table


def read_census(
    source: str | Path,
    features: Iterable[str] = schema.FEATURES,
    label: str = "required",
) -> pd.DataFrame:
    """Read raw census data from a file or directory.

    Returns the `features` (numeric ones as float, categorical ones stripped, NaN where the
    value is missing) and, unless `label` is "ignore", the `income` column as 0/1 (NaN when
    missing). `label` is "required", "optional" (kept when every file has it) or "ignore".
    Extra columns are ignored.
    """
    features = list(features)
    wanted = features + ([] if label == "ignore" else [schema.LABEL])
    frames = []
    for path in data_files(source):
        frame, first_line = _read_census_file(path, wanted)
        if frame.empty:
            raise JobInputError(f"{path} has a header but no data rows; add data rows")
        required = features + ([schema.LABEL] if label == "required" else [])
        missing = [name for name in required if name not in frame.columns]
        if missing:
            raise JobInputError(
                f"{path} lacks the required column(s) {', '.join(map(repr, missing))}; "
                "add them to its header"
            )
        table = census_table(frame, features, path, first_line)
        frames.append(table)
    if label == "optional" and any(schema.LABEL not in f.columns for f in frames):
        frames = [f.drop(columns=schema.LABEL, errors="ignore") for f in frames]
    return pd.concat(frames, ignore_index=True)


def _read_numbers(path: Path) -> pd.DataFrame | None:
    """The table when pandas reads every column as complete numbers, else None."""
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return None
    numeric = all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes)
    if frame.empty or not numeric or frame.isna().any().any():
        return None
    return frame


def read_numeric_table(path: Path) -> pd.DataFrame:
    """Read one CSV with a header whose columns all hold numbers (a features table)."""
    _first_row(path)  # a clear error for an empty file
    fast = _read_numbers(path)
    if fast is not None:
        return fast
    frame = _read_strings(path)
    if frame.empty:
        raise JobInputError(f"{path} has a header but no data rows; add data rows")
    # The slow path, value by value, only to say which value is wrong.
    return numeric_features(frame, path, first_line=2)


def numeric_features(frame: pd.DataFrame, source: str | Path, first_line: int = 1) -> pd.DataFrame:
    """A features table of strings -> floats; one clear error for a text or missing value."""
    table = pd.DataFrame(
        {name: _to_numbers(frame[name], name, source, first_line) for name in frame.columns},
        index=frame.index,
    )
    for name in table.columns:
        if table[name].isna().any():
            raise JobInputError(
                f"column {name!r} in {source} has empty values; features must be complete, "
                "so make them with preprocessing.py"
            )
    return table


def read_labels(path: Path) -> pd.Series:
    """Read a labels CSV: one `income` column of 0/1 (or the extract's label strings)."""
    _first_row(path)
    frame = _read_strings(path)
    if frame.empty:
        raise JobInputError(f"{path} has a header but no data rows; add data rows")
    if schema.LABEL not in frame.columns:
        raise JobInputError(
            f"{path} lacks the required column {schema.LABEL!r}; make it with preprocessing.py"
        )
    labels = _labels(frame[schema.LABEL], path, 2)
    if labels.isna().any():
        raise JobInputError(f"column {schema.LABEL!r} in {path} has empty values; fill them")
    return labels.astype(int).rename(schema.LABEL)

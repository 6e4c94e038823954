"""Reading the jobs' CSV inputs with one clear error per problem.

Two kinds of table come in: raw census data (a CSV with a header naming at least the
columns a job needs, or the headerless 42-column KDD extract) and the numeric tables the
preprocessor writes (features with a header, labels in one `income` column).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

try:
    from . import schema
    from .jobs_common import DEFAULT_CHUNK_ROWS, JobInputError, data_files
except ImportError:  # run as a script from the flat code folder
    import schema
    from jobs_common import DEFAULT_CHUNK_ROWS, JobInputError, data_files


def _first_row(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
    except UnicodeDecodeError as error:
        raise _not_utf8(path, error) from error
    except csv.Error as error:
        raise JobInputError(f"{path} is not a valid CSV file ({error}); fix the file") from error
    raise JobInputError(f"{path} is empty; it needs a header row and data rows")


def _not_utf8(path: Path, error: UnicodeDecodeError) -> JobInputError:
    byte = error.object[error.start]
    return JobInputError(
        f"{path} is not UTF-8 text (it holds the byte {byte:#04x}, as Latin-1 or Windows "
        "text does); save it as UTF-8"
    )


def _read_strings(path: Path, **options: object) -> pd.DataFrame:
    return next(_string_chunks(path, None, **options))


def _string_chunks(path: Path, chunk_rows: int | None, **options: object) -> Iterator[pd.DataFrame]:
    """The file as strings, `chunk_rows` rows at a time (None: all at once, one frame)."""
    try:
        if chunk_rows is None:
            yield pd.read_csv(path, dtype=str, keep_default_na=False, **options)
            return
        with pd.read_csv(
            path, dtype=str, keep_default_na=False, chunksize=chunk_rows, **options
        ) as reader:
            yield from reader
    except UnicodeDecodeError as error:  # a ValueError: caught before the general case
        raise _not_utf8(path, error) from error
    except (pd.errors.ParserError, ValueError) as error:
        message = str(error).strip().splitlines()[0]
        raise JobInputError(f"{path} cannot be parsed as CSV ({message}); fix the file") from error


def _blank_to_nan(column: pd.Series) -> pd.Series:
    """Values stripped of spaces, NaN where empty or `?`. Each distinct value is stripped
    once and its rows share that one string: a census column holds few distinct values, so
    a million rows cost a million pointers, not a million stripped copies."""
    codes, uniques = pd.factorize(column)  # missing values get the code -1
    values = [v.strip() if isinstance(v, str) else v for v in uniques]
    cleaned = np.array([*values, np.nan], dtype=object)  # index -1: the missing value
    cleaned[[v in ("", schema.MISSING_MARKER) for v in cleaned]] = np.nan
    return pd.Series(cleaned[codes], index=column.index, dtype=object)


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


def _empty_columns(frame: pd.DataFrame, names: Iterable[str]) -> set[str]:
    return {name for name in names if frame[name].isna().all()}


def _refuse_empty_column(names: Iterable[str], empty: set[str], path: str | Path) -> None:
    for name in names:
        if name in empty:
            raise JobInputError(
                f"column {name!r} in {path} has no values (all empty or '?'); "
                "fill it or use a file where it is filled"
            )


def _census_file_reader(
    path: Path, wanted: Sequence[str], chunk_rows: int | None
) -> tuple[Iterator[pd.DataFrame], int]:
    """One raw file: (its tables of the wanted columns present, chunk by chunk, the line
    number of its first data row)."""
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

        def pick(frame: pd.DataFrame) -> pd.DataFrame:
            frame.columns = [str(c).strip() for c in frame.columns]
            return frame[[c for c in frame.columns if c in wanted]]

        # No usecols: pandas would then let rows with too many fields pass silently.
        return (pick(chunk) for chunk in _string_chunks(path, chunk_rows)), 2
    if len(first) == len(schema.KDD_COLUMNS):
        chunks = _string_chunks(path, chunk_rows, header=None, names=list(schema.KDD_COLUMNS))
        return (chunk[list(wanted)] for chunk in chunks), 1
    raise JobInputError(
        f"{path} has neither a header naming the census columns nor the "
        f"{len(schema.KDD_COLUMNS)} columns of the KDD census-income extract; "
        f"add a header with {', '.join(schema.FEATURES)} and {schema.LABEL}"
    )


def _has_label(path: Path) -> bool:
    """Whether a raw file has the label column (False when it cannot be read: reading it
    for real then says why)."""
    try:
        first = _first_row(path)
    except JobInputError:
        return False
    if any(name in first for name in schema.REQUIRED):  # a header: the label must be named
        return schema.LABEL in first
    return len(first) == len(schema.KDD_COLUMNS)


def census_table(
    frame: pd.DataFrame, features: Iterable[str], source: str | Path, first_line: int
) -> pd.DataFrame:
    """Raw census strings -> the features (numbers as float, NaN where missing) and the label
    when `frame` has one; `source` and `first_line` name the place of a bad value."""
    features = list(features)
    table = _census_chunk(frame, features, source, first_line)
    _refuse_empty_column(features, _empty_columns(table, features), source)
    return table


def _census_chunk(
    frame: pd.DataFrame, features: list[str], source: str | Path, first_line: int
) -> pd.DataFrame:
    table = pd.DataFrame(index=frame.index)
    for name in features:
        if name in schema.NUMERIC:
            table[name] = _to_numbers(frame[name], name, source, first_line)
        else:
            table[name] = _blank_to_nan(frame[name])
    if schema.LABEL in frame.columns:
        table[schema.LABEL] = _labels(frame[schema.LABEL], source, first_line)
    return table


def iter_census(
    source: str | Path,
    features: Iterable[str] = schema.FEATURES,
    label: str = "required",
    chunk_rows: int | None = None,
) -> Iterator[pd.DataFrame]:
    """`read_census`, `chunk_rows` rows at a time (None: each file whole), so a job that
    works row by row holds one chunk in memory, not the whole input. A bad value raises
    when its chunk is read; a column empty in a whole file raises after its last chunk."""
    features = list(features)
    wanted = features + ([] if label == "ignore" else [schema.LABEL])
    files = data_files(source)
    # "optional" keeps the label only when every file has it: known from the headers.
    keep_label = label == "required" or (
        label == "optional" and all(_has_label(path) for path in files)
    )
    required = features + ([schema.LABEL] if label == "required" else [])
    for path in files:
        chunks, first_line = _census_file_reader(path, wanted, chunk_rows)
        empty = set(features)  # the columns without a value in every chunk so far
        for number, frame in enumerate(chunks):
            if number == 0:
                if frame.empty:
                    raise JobInputError(f"{path} has a header but no data rows; add data rows")
                missing = [name for name in required if name not in frame.columns]
                if missing:
                    raise JobInputError(
                        f"{path} lacks the required column(s) {', '.join(map(repr, missing))}; "
                        "add them to its header"
                    )
            table = _census_chunk(frame, features, path, first_line)
            first_line += len(frame)
            empty &= _empty_columns(table, empty)
            if not keep_label:
                table = table.drop(columns=schema.LABEL, errors="ignore")
            yield table
        _refuse_empty_column(features, empty, path)


def read_census(
    source: str | Path,
    features: Iterable[str] = schema.FEATURES,
    label: str = "required",
    chunk_rows: int | None = None,
) -> pd.DataFrame:
    """Read raw census data from a file or directory.

    Returns the `features` (numeric ones as float, categorical ones stripped, NaN where the
    value is missing) and, unless `label` is "ignore", the `income` column as 0/1 (NaN when
    missing). `label` is "required", "optional" (kept when every file has it) or "ignore".
    Extra columns are ignored. With `chunk_rows`, each file is parsed that many rows at a
    time: the raw strings of one chunk are held at once, not those of the whole file.
    """
    return pd.concat(iter_census(source, features, label, chunk_rows), ignore_index=True)


def _number_chunks(path: Path, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    if chunk_rows is None:
        yield pd.read_csv(path)
        return
    with pd.read_csv(path, chunksize=chunk_rows) as reader:
        yield from reader


def _complete_numbers(frame: pd.DataFrame) -> bool:
    numeric = all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes)
    return numeric and not frame.empty and not frame.isna().any().any()


def iter_numeric_table(path: Path, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """`read_numeric_table`, `chunk_rows` rows at a time (None: the whole file at once)."""
    _first_row(path)  # a clear error for an empty file
    accepted = 0
    try:
        for chunk in _number_chunks(path, chunk_rows):
            if not _complete_numbers(chunk):
                break
            yield _small_ints(chunk)
            accepted += 1
        else:
            return
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        pass
    # The slow path, value by value, from the first chunk pandas did not read as complete
    # numbers, only to say which value is wrong.
    first_line = 2
    for number, frame in enumerate(_string_chunks(path, chunk_rows)):
        if number == 0 and frame.empty:
            raise JobInputError(f"{path} has a header but no data rows; add data rows")
        if number >= accepted:
            yield numeric_features(frame, path, first_line)
        first_line += len(frame)


def _small_ints(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer columns in the smallest integer type that holds their values: the features'
    0/1 indicators take 1 byte a value instead of 8. The values are the same, and a model
    converts them to the same floats, so its results do not change."""
    small = {
        name: pd.to_numeric(frame[name], downcast="integer")
        for name in frame.columns
        if pd.api.types.is_integer_dtype(frame[name].dtype)
    }
    return frame.assign(**small) if small else frame


def read_numeric_table(path: Path) -> pd.DataFrame:
    """Read one CSV with a header whose columns all hold numbers (a features table).

    Parsed in chunks: the whole table is held only in its small integer types."""
    return pd.concat(iter_numeric_table(path, DEFAULT_CHUNK_ROWS), ignore_index=True)


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

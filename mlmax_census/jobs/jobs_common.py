"""Plumbing shared by the job scripts: input errors, finding input files, atomic writes,
model archives and the script entry point.

Every output goes through `write_outputs`, which writes all files under temporary names and
renames them only when all of them were written, so a failed job never leaves a file that
looks complete.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib

# File suffixes read as data when an input argument names a directory: CSV files and the
# KDD extract's files (census-income.data).
DATA_SUFFIXES = (".csv", ".data")


class JobInputError(ValueError):
    """Bad input a user can fix; the message is one sentence naming the problem and the fix."""


def data_files(source: str | os.PathLike[str]) -> list[Path]:
    """The data files of an input: the file itself, or a directory's CSV/.data files in name
    order."""
    path = Path(source)
    if path.is_file():
        return [path]
    if not path.exists():
        raise JobInputError(f"input {path} does not exist; pass an existing file or directory")
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix in DATA_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise JobInputError(
            f"directory {path} holds no .csv or .data file; put the input data there"
        )
    return files


def named_file(directory: str | os.PathLike[str], name: str, hint: str) -> Path:
    """`directory/name`, which must exist; `hint` says which job makes the file."""
    path = Path(directory) / name
    if not path.is_file():
        raise JobInputError(f"{path} is missing; {hint}")
    return path


def write_outputs(files: Mapping[Path, Callable[[Path], object]]) -> None:
    """Write several output files all-or-nothing.

    Each writer gets a temporary path in the target's directory; once every writer has
    succeeded, the temporary files are renamed to their final names (os.replace is atomic on
    one filesystem).
    """
    with atomic_outputs(list(files)) as temporaries:
        for target, writer in files.items():
            writer(temporaries[target])


@contextlib.contextmanager
def atomic_outputs(targets: Sequence[Path]) -> Iterator[dict[Path, Path]]:
    """Temporary paths for `targets`, renamed to them only when the block succeeds.

    For a job that writes several files at once, chunk by chunk: on any error every
    temporary file goes, and so do the directories made for them, so a failed job leaves
    the output tree as it found it.
    """
    temporaries: dict[Path, Path] = {}
    made: list[Path] = []
    try:
        for target in targets:
            made += _make_parents(target.parent)
            temporaries[target] = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        yield temporaries
        for target, temporary in temporaries.items():
            os.replace(temporary, target)
    except OSError as error:
        _undo(temporaries.values(), made)
        raise JobInputError(
            f"cannot write {error.filename or 'an output file'}: {error.strerror or error}; "
            "choose a writable output directory"
        ) from error
    except BaseException:
        _undo(temporaries.values(), made)
        raise


def _make_parents(directory: Path) -> list[Path]:
    """mkdir -p; returns the directories it made, outermost first."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()][::-1]
    directory.mkdir(parents=True, exist_ok=True)
    return missing


def _undo(temporaries: Iterable[Path], made: list[Path]) -> None:
    for temporary in temporaries:
        temporary.unlink(missing_ok=True)
    for directory in reversed(made):
        with contextlib.suppress(OSError):  # not empty: something else wrote there meanwhile
            directory.rmdir()


def tar_writer(member: str, obj: Any) -> Callable[[Path], None]:
    """A writer for `write_outputs` that stores `obj` (joblib) as `member` of a .tar.gz."""

    def write(path: Path) -> None:
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        info = tarfile.TarInfo(member)
        info.size = buffer.tell()
        buffer.seek(0)
        with tarfile.open(path, "w:gz") as archive:
            archive.addfile(info, buffer)

    return write


def joblib_writer(obj: Any) -> Callable[[Path], None]:
    """A writer for `write_outputs` that stores `obj` with joblib."""
    return lambda path: joblib.dump(obj, path)


def load_from_tar(archive_path: Path, member: str, hint: str) -> Any:
    """Load the joblib object stored as `member` (at any depth) in a .tar.gz archive.

    The member is read from the archive in memory rather than extracted, so an archive with
    odd paths cannot write anywhere.
    """
    if not archive_path.is_file():
        raise JobInputError(f"model archive {archive_path} is missing; {hint}")
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            for info in archive.getmembers():
                if info.isfile() and Path(info.name).name == member:
                    stream = archive.extractfile(info)
                    assert stream is not None  # a regular file always has a stream
                    return joblib.load(io.BytesIO(stream.read()))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise JobInputError(f"model archive {archive_path} is corrupt ({error}); {hint}") from error
    except Exception as error:  # unpickling garbage raises almost anything
        raise JobInputError(
            f"{member} in model archive {archive_path} cannot be loaded ({error}); {hint}"
        ) from error
    raise JobInputError(f"model archive {archive_path} holds no {member}; {hint}")


def load_joblib(path: Path, hint: str) -> Any:
    """Load a joblib file, turning a damaged file into a JobInputError."""
    try:
        return joblib.load(path)
    except Exception as error:  # unpickling garbage raises almost anything
        raise JobInputError(f"{path} is corrupt or not a joblib file ({error}); {hint}") from error


# Rows a job parses, transforms or predicts at a time where it does not need the whole
# table: its memory then grows with the chunk, not with the input. 50,000 rows of census data
# are about 4 MB of text and some 30 MB as parsed strings or one-hot features; a multiple of 8
# keeps BLAS's row split of a chunk in step with the whole table's (docs/job-contract.md).
DEFAULT_CHUNK_ROWS = 50_000


def _row_count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def add_chunk_rows_argument(parser: argparse.ArgumentParser) -> None:
    """The jobs' `--chunk-rows` (the same meaning and default in every job)."""
    parser.add_argument(
        "--chunk-rows",
        type=_row_count,
        default=DEFAULT_CHUNK_ROWS,
        help=f"rows read and processed at a time (default {DEFAULT_CHUNK_ROWS})",
    )


def run_main(
    main: Callable[[Any], object],
    parse_args: Callable[[list[str] | None], Any],
    argv: list[str] | None = None,
) -> int:
    """Run a job as a script: returns the exit code, 2 with `error: ...` on bad input."""
    args = parse_args(argv)
    try:
        main(args)
    except JobInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


MODEL_FILE = "model.joblib"
MODEL_ARCHIVE = "model.tar.gz"


def load_model(model_dir: str | os.PathLike[str]) -> Any:
    """Load the trained classifier from `model.joblib` or SageMaker's packed `model.tar.gz`."""
    directory = Path(model_dir)
    hint = "run train.py and pass its model directory"
    if (directory / MODEL_FILE).is_file():
        model = load_joblib(directory / MODEL_FILE, hint)
        source = directory / MODEL_FILE
    elif (directory / MODEL_ARCHIVE).is_file():
        model = load_from_tar(directory / MODEL_ARCHIVE, MODEL_FILE, hint)
        source = directory / MODEL_ARCHIVE
    else:
        raise JobInputError(f"no {MODEL_FILE} or {MODEL_ARCHIVE} in {directory}; {hint}")
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        raise JobInputError(f"{source} does not hold a fitted classifier; {hint}")
    return model

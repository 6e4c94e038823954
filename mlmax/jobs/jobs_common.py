"""Plumbing shared by the job scripts: input errors, finding input files, atomic writes,
model archives and the script entry point.

Every output goes through `write_outputs`, which writes all files under temporary names and
renames them only when all of them were written, so a failed job never leaves a file that
looks complete.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
from collections.abc import Callable, Mapping
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
    written: list[tuple[Path, Path]] = []
    try:
        for target, writer in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            written.append((temporary, target))
            writer(temporary)
        for temporary, target in written:
            os.replace(temporary, target)
    except OSError as error:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise JobInputError(
            f"cannot write {error.filename or 'an output file'}: {error.strerror or error}; "
            "choose a writable output directory"
        ) from error
    except BaseException:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise


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

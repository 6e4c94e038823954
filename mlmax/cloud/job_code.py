"""mlmax's job scripts as they ship to SageMaker: a staged copy and its content hash.

The SageMaker runner uploads the staged folder as each job's code; the Pipeline export
also names the code's S3 keys and the SDK's job names after its hash, so the same code gives
the same definition, byte for byte.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from mlmax.project import JOBS_DIR


def stage_job_code(destination: Path) -> Path:
    """Copy the jobs folder's Python files (flat, no caches) into `destination`.

    The folder is what ships into the container as the code root; copying only *.py keeps
    `__pycache__` and editor files out of the upload and makes its content hash stable.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for source in sorted(JOBS_DIR.glob("*.py")):
        shutil.copyfile(source, destination / source.name)
    return destination


def code_fingerprint(code_dir: Path) -> str:
    """A short hash of the staged job code: names derived from it change only with the code."""
    digest = hashlib.sha256()
    for path in sorted(code_dir.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(code_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]

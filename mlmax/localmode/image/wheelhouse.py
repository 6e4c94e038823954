"""Wheels for the job image, downloaded on the host (which can reach the package index).

The image build itself has no network: it installs from this wheelhouse with `--no-index`.
Wheelhouses are cached per set of requirements under the user's cache directory and
appear there only once complete (downloaded into a temporary directory, then renamed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mlmax.common import EnvironmentNotReadyError, Progress, cache_root, or_default

# Bump when the download recipe changes in a way that changes which wheels are chosen.
RECIPE_VERSION = "1"
DEFAULT_PYTHON_VERSION = "3.11"

# The legacy manylinux names and the glibc they stand for.
_LEGACY_MANYLINUX = (("manylinux2014", 17), ("manylinux2010", 12), ("manylinux1", 5))


def manylinux_tags(glibc_minor: int = 36, machine: str = "x86_64") -> tuple[str, ...]:
    """Every manylinux tag a Linux with glibc 2.<glibc_minor> accepts, newest first.

    pip needs the full list: given only the legacy "manylinux2014" tag it silently settles
    for much older releases of the pinned libraries (or none).
    """
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(glibc_minor, 4, -1)]
    tags += [f"{name}_{machine}" for name, minor in _LEGACY_MANYLINUX if minor <= glibc_minor]
    return tuple(tags)


# Debian bookworm (the offline base, and the slim Python 3.11 image) has glibc 2.36.
MANYLINUX_X86_64 = manylinux_tags(36)

# Settings that would make `pip download` put something other than the pinned wheels
# into the wheelhouse (or refuse to run outside a venv). Index and certificate settings
# are kept so a company mirror keeps working.
_PIP_SETTINGS_TO_DROP = (
    "PIP_CONSTRAINT",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_NO_BINARY",
    "PIP_ONLY_BINARY",
    "PIP_NO_DEPS",
    "PIP_PRE",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_USER",
)


class WheelhouseError(EnvironmentNotReadyError, RuntimeError):
    """The wheels for the image could not be downloaded."""


def wheelhouse_key(
    requirement_files: Sequence[Path],
    python_version: str = DEFAULT_PYTHON_VERSION,
    platforms: Sequence[str] = MANYLINUX_X86_64,
) -> str:
    """A hash of everything that decides which wheels are downloaded."""
    digest = hashlib.sha256()
    for part in (RECIPE_VERSION, python_version, *platforms):
        digest.update(part.encode() + b"\0")
    for path in requirement_files:
        digest.update(Path(path).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_wheelhouse(
    requirement_files: Sequence[Path],
    *,
    python_version: str = DEFAULT_PYTHON_VERSION,
    platforms: Sequence[str] = MANYLINUX_X86_64,
    progress: Progress | None = None,
) -> Path:
    """The directory of wheels for these requirements, downloading them the first time."""
    say = or_default(progress)
    root = cache_root() / "wheelhouse"
    target = root / wheelhouse_key(requirement_files, python_version, platforms)
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_downloads(root)
    names = ", ".join(Path(p).name for p in requirement_files)
    say(f"Downloading wheels for Python {python_version} ({names}) into {target}")
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        _pip_download(requirement_files, staging, python_version, platforms)
        wheels = sorted(staging.glob("*.whl"))
        if not wheels:
            raise WheelhouseError(f"pip downloaded no wheels for {names}; check the file.")
        size = sum(w.stat().st_size for w in wheels) / 1e6
        try:
            staging.rename(target)
        except OSError:
            # Another process finished the same wheelhouse first: theirs is as good.
            if not target.is_dir():
                raise
        else:
            say(f"Downloaded {len(wheels)} wheels ({size:.0f} MB)")
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_abandoned_downloads(root: Path, older_than_s: float = 24 * 3600) -> None:
    """Drop partial downloads a killed process left (a live download is never a day old)."""
    cutoff = time.time() - older_than_s
    for partial in root.glob(".partial-*"):
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime < cutoff:
                shutil.rmtree(partial, ignore_errors=True)


def _pip_download(
    requirement_files: Sequence[Path], dest: Path, python_version: str, platforms: Sequence[str]
) -> None:
    abi = "cp" + python_version.replace(".", "")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
        *(arg for tag in platforms for arg in ("--platform", tag)),
        "--platform",
        "any",
        "--dest",
        str(dest),
    ]
    for path in requirement_files:
        command += ["--requirement", str(path)]
    env = {k: v for k, v in os.environ.items() if k not in _PIP_SETTINGS_TO_DROP}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = _last_meaningful_line(result.stderr) or f"exit code {result.returncode}"
        raise WheelhouseError(
            f"Downloading the image's wheels failed ({last}); check that the package index "
            "is reachable (pip's index settings) and that every pin has a Linux x86_64 wheel."
        )


def _last_meaningful_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or [""])[-1]

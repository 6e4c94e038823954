"""The job image every Local Mode job runs in: built offline, cached by content hash.

The tag is `mlmax-job:<hash12>` where the hash covers everything that goes into the image
(Dockerfile, requirement pins, the base image's ID, build arguments), so an unchanged
workspace never rebuilds and a changed pin always does. Images without debugpy (ours built
with `with_debugpy=False`, or someone else's such as a SageMaker framework image) get a
derived `mlmax-debug:<hash12>` image with debugpy installed from a host-side wheelhouse.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import docker.errors

import docker
from mlmax.localmode.base_image import (
    LABEL_PREFIX,
    ImageBuildError,
    ensure_base_image,
)
from mlmax.localmode.docker_env import require_docker
from mlmax.localmode.wheelhouse import (
    MANYLINUX_X86_64,
    WheelhouseError,
    cache_lock,
    ensure_wheelhouse,
)
from mlmax.progress import Progress, or_default

JOB_REPOSITORY = "mlmax-job"
DEBUG_REPOSITORY = "mlmax-debug"
NODEBUG_SUFFIX = "-nodebug"
REQUIREMENTS = "requirements.txt"
DEBUG_REQUIREMENTS = "requirements-debug.txt"
_BUILD_TIMEOUT_S = 3600
_STEP = re.compile(r"^Step \d+/\d+ : ")

__all__ = [
    "ImageBuildError",
    "JobImage",
    "docker_dir",
    "ensure_debugpy_image",
    "ensure_job_image",
    "image_hash",
    "list_job_images",
    "prune_job_images",
]


def docker_dir() -> Path:
    """The folder holding the job image's Dockerfile and requirement pins."""
    return Path(__file__).resolve().parents[2] / "docker"


def image_hash(
    dockerfile: bytes,
    requirement_files: Mapping[str, bytes],
    base_image_id: str,
    build_args: Mapping[str, str],
) -> str:
    """A hex digest of everything that decides the image's contents."""
    payload = {
        "dockerfile": hashlib.sha256(dockerfile).hexdigest(),
        "requirements": {
            name: hashlib.sha256(content).hexdigest()
            for name, content in sorted(requirement_files.items())
        },
        "base_image_id": base_image_id,
        "build_args": dict(sorted(build_args.items())),
        "platforms": list(MANYLINUX_X86_64),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def ensure_job_image(
    *,
    base_image: str | None = None,
    with_debugpy: bool = True,
    progress: Progress | None = None,
) -> str:
    """The tag of the job image for the current workspace, building it only when missing."""
    say = or_default(progress)
    client = require_docker()
    base = ensure_base_image(client, base_image, progress=say)
    tag, digest, build_args = _job_image_spec(client, base, with_debugpy)
    if _exists(client, tag):
        return tag
    with cache_lock("job-image"):
        if _exists(client, tag):
            return tag
        folder = docker_dir()
        wheelhouse = _wheelhouse([folder / REQUIREMENTS, folder / DEBUG_REQUIREMENTS], progress=say)
        files = {
            "Dockerfile": folder / "Dockerfile",
            REQUIREMENTS: folder / REQUIREMENTS,
            DEBUG_REQUIREMENTS: folder / DEBUG_REQUIREMENTS,
        }
        labels = {
            f"{LABEL_PREFIX}.role": "job",
            f"{LABEL_PREFIX}.job-hash": digest,
            f"{LABEL_PREFIX}.debugpy": "1" if with_debugpy else "0",
            f"{LABEL_PREFIX}.base-image": base,
        }
        say(f"Building job image {tag} on {base}")
        _build(
            client,
            files,
            wheelhouse,
            tag,
            {**build_args, "MLMAX_JOB_HASH": digest},
            labels,
            digest,
            say,
        )
    return tag


def _job_image_spec(
    client: docker.DockerClient, base: str, with_debugpy: bool
) -> tuple[str, str, dict[str, str]]:
    folder = docker_dir()
    dockerfile = folder / "Dockerfile"
    if not dockerfile.is_file():
        raise ImageBuildError(
            f"The job image's Dockerfile is missing at {dockerfile}; reinstall mlmax from "
            "its source tree (`pip install -e .`)."
        )
    build_args = {"BASE_IMAGE": base, "WITH_DEBUGPY": "1" if with_debugpy else "0"}
    digest = image_hash(
        dockerfile.read_bytes(),
        {
            REQUIREMENTS: (folder / REQUIREMENTS).read_bytes(),
            DEBUG_REQUIREMENTS: (folder / DEBUG_REQUIREMENTS).read_bytes(),
        },
        client.api.inspect_image(base)["Id"],
        build_args,
    )
    tag = f"{JOB_REPOSITORY}:{digest[:12]}" + ("" if with_debugpy else NODEBUG_SUFFIX)
    return tag, digest, build_args


def _wheelhouse(requirement_files: list[Path], **kwargs) -> Path:
    try:
        return ensure_wheelhouse(requirement_files, **kwargs)
    except WheelhouseError as error:
        raise ImageBuildError(str(error)) from None


def _build(
    client: docker.DockerClient,
    files: Mapping[str, Path | bytes],
    wheelhouse: Path,
    tag: str,
    build_args: Mapping[str, str],
    labels: Mapping[str, str],
    digest: str,
    say: Progress,
) -> None:
    """Run one classic-builder build, streaming its steps, then drop the build stage."""
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=20)
    error: str | None = None
    with tempfile.TemporaryFile(prefix="mlmax-context-") as context:
        _write_context(context, files, wheelhouse)
        context.seek(0)
        try:
            for chunk in client.api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                buildargs=dict(build_args),
                labels=dict(labels),
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                timeout=_BUILD_TIMEOUT_S,
            ):
                if "stream" in chunk:
                    for line in chunk["stream"].splitlines():
                        if line.strip():
                            tail.append(line.rstrip())
                            if _STEP.match(line):
                                say("  " + line.strip())
                if "error" in chunk:
                    error = chunk["error"].strip()
        finally:
            _remove_build_stage(client, digest)
    if error is not None or not _exists(client, tag):
        last = " | ".join(list(tail)[-6:])
        raise ImageBuildError(f"Building {tag} failed: {error or 'no image produced'} ({last}).")
    size = client.api.inspect_image(tag)["Size"] / 1e6
    say(f"Built {tag} ({size:.0f} MB) in {time.monotonic() - started:.0f} s")


def _write_context(fileobj, files: Mapping[str, Path | bytes], wheelhouse: Path) -> None:
    """A tar build context straight from the sources: no copy of the wheels on disk."""
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for name, source in files.items():
            if isinstance(source, bytes):
                info = tarfile.TarInfo(name)
                info.size = len(source)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(source))
            else:
                tar.add(str(source), arcname=name, recursive=False)
        tar.add(str(wheelhouse), arcname="wheelhouse", recursive=False)
        for wheel in sorted(wheelhouse.glob("*.whl")):
            tar.add(str(wheel), arcname=f"wheelhouse/{wheel.name}")


def _remove_build_stage(client: docker.DockerClient, digest: str) -> None:
    """Remove the untagged images this build's first stage left (the wheels are in them)."""
    filters = {
        "dangling": True,
        "label": [f"{LABEL_PREFIX}.stage=build", f"{LABEL_PREFIX}.job-hash={digest}"],
    }
    for image in client.api.images(filters=filters, quiet=True):
        # An image still used by a concurrent build of the same hash is left to that build.
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_image(image, noprune=False)


def _exists(client: docker.DockerClient, reference: str) -> bool:
    try:
        client.api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


# --- debugpy for any image ----------------------------------------------------------------


def ensure_debugpy_image(image: str, *, progress: Progress | None = None) -> str:
    raise NotImplementedError


# --- listing and pruning ------------------------------------------------------------------


@dataclass(frozen=True)
class JobImage:
    tag: str
    id: str
    role: str
    size_mb: float
    created: int


def list_job_images() -> list[JobImage]:
    raise NotImplementedError


def prune_job_images(keep_current: bool = True) -> list[str]:
    raise NotImplementedError


def _unused(_: Iterable[object]) -> None:  # pragma: no cover
    return None

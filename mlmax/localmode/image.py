"""The job image every Local Mode job runs in: built offline, cached by content hash.

The tag is `mlmax-job:<hash12>` where the hash covers everything that goes into the image
(Dockerfile, requirement pins, the base image's ID, build arguments), so an unchanged
workspace never rebuilds and a changed pin always does. How one build runs is
`image_build.py`; debugpy for images without it is `debug_image.py`; listing and pruning
what mlmax built is `image_inventory.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

import docker

from mlmax.localmode.base_image import (
    LABEL_PREFIX,
    ImageBuildError,
    ensure_base_image,
    local_base_image,
)
from mlmax.localmode.image_build import (
    SERVE_SCRIPT,
    build,
    engine,
    image_exists,
    wheelhouse_for,
)
from mlmax.localmode.wheelhouse import MANYLINUX_X86_64, cache_lock
from mlmax.progress import Progress, or_default

JOB_REPOSITORY = "mlmax-job"
NODEBUG_SUFFIX = "-nodebug"
REQUIREMENTS = "requirements.txt"
DEBUG_REQUIREMENTS = "requirements-debug.txt"


def docker_dir() -> Path:
    """The folder holding the job image's Dockerfile and requirement pins: package data,
    so an installed wheel builds the image as a source checkout does."""
    return Path(__file__).resolve().parents[1] / "job_image"


def _read_docker_dir(folder: Path) -> dict[str, bytes]:
    """The files that make the job image, by their name in the build context."""
    names = ("Dockerfile", REQUIREMENTS, DEBUG_REQUIREMENTS, SERVE_SCRIPT)
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise ImageBuildError(
            f"The job image's {', '.join(missing)} is missing from {folder}; restore it "
            "(git checkout mlmax/job_image/) or reinstall mlmax (`pip install mlmax`)."
        )
    return {name: (folder / name).read_bytes() for name in names}


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
    context_dir: Path | None = None,
    requirements: Path | None = None,
    project: str | None = None,
) -> str:
    """The tag of the job image for the current workspace, building it only when missing.

    base_image defaults to $MLMAX_BASE_IMAGE, else the slim Python 3.11 image if present or
    pullable, else a Debian base built offline. context_dir replaces the job_image/ folder
    (Dockerfile and requirement files), for tests and experiments. `requirements` (a
    project's own requirements file) replaces mlmax's pins: the image of that `project`,
    built the same offline, hashed way and tagged `mlmax-job-<project>:<hash12>` so two
    projects on one engine never share or overwrite a tag.
    """
    say = or_default(progress)
    with engine() as client:
        base = ensure_base_image(client, base_image, progress=say)
        folder = context_dir or docker_dir()
        files = _read_docker_dir(folder)
        requirement_paths = [folder / REQUIREMENTS, folder / DEBUG_REQUIREMENTS]
        repository = JOB_REPOSITORY
        labels: dict[str, str] = {}
        if requirements is not None:
            files = {**files, REQUIREMENTS: _read_requirements(requirements)}
            requirement_paths[0] = requirements
            repository = project_repository(project or requirements.parent.name)
            labels[f"{LABEL_PREFIX}.project"] = project or requirements.parent.name
        tag, digest, build_args = _job_image_spec(client, base, with_debugpy, files, repository)
        if image_exists(client, tag):
            return tag
        if not with_debugpy:
            job_image = ensure_job_image(
                base_image=base_image,
                progress=progress,
                context_dir=context_dir,
                requirements=requirements,
                project=project,
            )
            return _without_debugpy(client, job_image, tag, digest, base, say)
        with cache_lock("job-image"):
            if image_exists(client, tag):  # built by another process while we waited
                return tag
            wheelhouse = wheelhouse_for(requirement_paths, say)
            # The Dockerfile labels the image itself (role, hash, debugpy, base) in one step.
            say(f"Building job image {tag} on {base}")
            build(
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


def _without_debugpy(
    client: docker.DockerClient, job_image: str, tag: str, digest: str, base: str, say: Progress
) -> str:
    """The job image minus debugpy, derived from it: the context is one Dockerfile and the
    build takes seconds, where installing the whole stack again took minutes."""
    labels = {
        f"{LABEL_PREFIX}.role": "job",
        f"{LABEL_PREFIX}.job-hash": digest,
        f"{LABEL_PREFIX}.debugpy": "0",
        f"{LABEL_PREFIX}.base-image": base,
    }
    # One LABEL step: the classic builder commits a layer per label passed through the API.
    dockerfile = (
        f"FROM {job_image}\n"
        "RUN python3 -m pip uninstall --yes --quiet --disable-pip-version-check debugpy"
        " && ! python3 -c 'import debugpy' 2>/dev/null\n"
        "LABEL " + " ".join(f"{name}={value}" for name, value in labels.items()) + "\n"
    ).encode()
    with cache_lock("job-image"):
        if not image_exists(client, tag):
            say(f"Building job image {tag}: {job_image} without debugpy")
            build(client, {"Dockerfile": dockerfile}, None, tag, {}, {}, digest, say)
    return tag


def project_repository(project: str) -> str:
    """The image repository of a project's own job images: `mlmax-job-<project>`."""
    slug = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-") or "project"
    return f"{JOB_REPOSITORY}-{slug}"


def _read_requirements(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ImageBuildError(
            f"Cannot read the requirements file {path} ({error.strerror}); fix the path in "
            "[tool.mlmax] of your pyproject.toml."
        ) from None


def current_job_tags(base_image: str | None = None) -> list[str]:
    """The tags ensure_job_image would return now (both variants), without building."""
    with engine() as client:
        base = local_base_image(client, base_image)
        if base is None:
            return []
        files = _read_docker_dir(docker_dir())
        return [_job_image_spec(client, base, flag, files)[0] for flag in (True, False)]


def _job_image_spec(
    client: docker.DockerClient,
    base: str,
    with_debugpy: bool,
    files: Mapping[str, bytes],
    repository: str = JOB_REPOSITORY,
) -> tuple[str, str, dict[str, str]]:
    build_args = {"BASE_IMAGE": base, "WITH_DEBUGPY": "1" if with_debugpy else "0"}
    digest = image_hash(
        files["Dockerfile"],
        {name: content for name, content in files.items() if name != "Dockerfile"},
        client.api.inspect_image(base)["Id"],
        build_args,
    )
    tag = f"{repository}:{digest[:12]}" + ("" if with_debugpy else NODEBUG_SUFFIX)
    return tag, digest, build_args

"""The job image every Local Mode job runs in: built offline, cached by content hash.

The tag is `mlmax-job:<hash12>` where the hash covers everything that goes into the image
(the recipe in mlmax/job_image/: install.sh, image.toml, requirement pins, serve; the base
image's ID and name; the variant), so an unchanged workspace never rebuilds and a changed
pin always does. How one build runs (in a container, then committed) is `build.py`;
debugpy for images without it is `debug_variant.py`; listing and pruning what mlmax built is
`inventory.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import docker

from mlmax.common import Progress, cache_lock, or_default
from mlmax.localmode.image.base import (
    LABEL_PREFIX,
    ImageBuildError,
    ensure_base_image,
    image_exists,
    local_base_image,
)
from mlmax.localmode.image.build import (
    ROLE,
    ImageConfig,
    Recipe,
    build,
    engine,
    wheelhouse_for,
)
from mlmax.localmode.image.wheelhouse import MANYLINUX_X86_64

JOB_REPOSITORY = "mlmax-job"
# "1" on an image whose recipe installed debugpy (job images, derived debug images), "0" on
# a job image built without it.
DEBUGPY_LABEL = f"{LABEL_PREFIX}.debugpy"
NODEBUG_SUFFIX = "-nodebug"
REQUIREMENTS = "requirements.txt"
DEBUG_REQUIREMENTS = "requirements-debug.txt"
IMAGE_CONFIG = "image.toml"
INSTALL_SCRIPT = "install.sh"
# The job image's recipe: every file that decides its contents (the hash covers them all).
JOB_RECIPE = (INSTALL_SCRIPT, IMAGE_CONFIG, REQUIREMENTS, DEBUG_REQUIREMENTS, "serve")


def recipe_dir() -> Path:
    """The folder holding the images' recipes, config and requirement pins: package data,
    so an installed wheel builds the image as a source checkout does."""
    return Path(__file__).resolve().parents[2] / "job_image"


def read_recipe(folder: Path, names: tuple[str, ...] = JOB_RECIPE) -> dict[str, bytes]:
    """The recipe's files by name: what the image is made of, hashed and uploaded."""
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise ImageBuildError(
            f"The job image's {', '.join(missing)} is missing from {folder}; restore it "
            "(git checkout mlmax/job_image/) or reinstall mlmax (`pip install mlmax`)."
        )
    return {name: (folder / name).read_bytes() for name in names}


def image_config(
    files: Mapping[str, bytes], section: str, labels: Mapping[str, str]
) -> ImageConfig:
    """The config of one section of the recipe's image.toml (`job`, `debugpy`): env, path, cmd."""
    try:
        settings = dict(tomllib.loads(files[IMAGE_CONFIG].decode())[section])
    except (tomllib.TOMLDecodeError, KeyError, UnicodeDecodeError) as error:
        raise ImageBuildError(
            f"The image config {IMAGE_CONFIG} has no valid [{section}] table ({error}); "
            "restore it (git checkout mlmax/job_image/) or reinstall mlmax."
        ) from None
    return ImageConfig(
        labels=labels,
        env=settings.get("env", {}),
        path=settings.get("path", ()),
        cmd=settings.get("cmd"),
    )


def recipe_hash(recipe_files: Mapping[str, bytes], **facts: object) -> str:
    """A hex digest of a recipe's files and the facts (source image, variant) it is built with."""
    recipe = {name: hashlib.sha256(content).hexdigest() for name, content in recipe_files.items()}
    payload = {"recipe": recipe, **facts}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def image_hash(
    recipe_files: Mapping[str, bytes], base_image_id: str, variant: Mapping[str, str]
) -> str:
    """A hex digest of everything that decides the job image's contents."""
    return recipe_hash(
        recipe_files,
        base_image_id=base_image_id,
        variant=dict(variant),
        platforms=list(MANYLINUX_X86_64),
    )


def ensure_job_image(
    *,
    base_image: str | None = None,
    with_debugpy: bool = True,
    progress: Progress | None = None,
    recipe_folder: Path | None = None,
    requirements: Path | None = None,
    project: str | None = None,
) -> str:
    """The tag of the job image for the current workspace, building it only when missing.

    base_image defaults to $MLMAX_BASE_IMAGE, else the slim Python 3.11 image if present or
    pullable, else a Debian base built offline. recipe_folder replaces the job_image/ folder
    (recipe, config and requirement files), for tests and experiments. `requirements` (a
    project's own requirements file) replaces mlmax's pins: the image of that `project`,
    built the same offline, hashed way and tagged `mlmax-job-<project>:<hash12>` so two
    projects on one engine never share or overwrite a tag.
    """
    say = or_default(progress)
    with engine() as client:
        base = ensure_base_image(client, base_image, progress=say)
        folder = recipe_folder or recipe_dir()
        files, repository = _with_requirements(read_recipe(folder), requirements, project)
        requirement_paths = [folder / REQUIREMENTS, folder / DEBUG_REQUIREMENTS]
        extra_labels: dict[str, str] = {}
        if requirements is not None:
            requirement_paths[0] = requirements
            extra_labels[f"{LABEL_PREFIX}.project"] = project or requirements.parent.name
        tag, digest = _job_image_spec(client, base, with_debugpy, files, repository)
        if image_exists(client, tag):
            return tag
        image_labels = {**_job_labels(digest, with_debugpy, base), **extra_labels}
        if not with_debugpy:
            job_image = ensure_job_image(
                base_image=base_image,
                progress=progress,
                recipe_folder=recipe_folder,
                requirements=requirements,
                project=project,
            )
            return _without_debugpy(client, job_image, tag, image_labels, say)
        config = image_config(files, "job", image_labels)
        with cache_lock("job-image"):
            if image_exists(client, tag):  # built by another process while we waited
                return tag
            recipe = Recipe.script(INSTALL_SCRIPT, files, wheelhouse_for(requirement_paths, say))
            say(f"Building job image {tag} on {base}")
            build(client, base, recipe, tag, config, say)
        return tag


def _job_labels(digest: str, with_debugpy: bool, base: str) -> dict[str, str]:
    return {
        ROLE: "job",
        f"{LABEL_PREFIX}.job-hash": digest,
        DEBUGPY_LABEL: "1" if with_debugpy else "0",
        f"{LABEL_PREFIX}.base-image": base,
    }


def _without_debugpy(
    client: docker.DockerClient, job_image: str, tag: str, labels: dict[str, str], say: Progress
) -> str:
    """The job image minus debugpy, derived from it: one uninstall, seconds, where
    installing the whole stack again took minutes. Its config is the job image's."""
    uninstall = (
        "python3 -m pip uninstall --yes --quiet --disable-pip-version-check debugpy"
        " && ! python3 -c 'import debugpy' 2>/dev/null"
    )
    recipe = Recipe(files={}, command=["/bin/sh", "-c", uninstall])
    with cache_lock("job-image"):
        if not image_exists(client, tag):
            say(f"Building job image {tag}: {job_image} without debugpy")
            build(client, job_image, recipe, tag, ImageConfig(labels=labels), say)
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


def current_job_tags(
    base_image: str | None = None,
    *,
    requirements: Path | None = None,
    project: str | None = None,
) -> list[str]:
    """The tags ensure_job_image would return now (both variants), without building; those
    of `project`'s own image with `requirements`. None while no base image is here."""
    with engine() as client:
        base = local_base_image(client, base_image)
        if base is None:
            return []
        files, repository = _with_requirements(read_recipe(recipe_dir()), requirements, project)
        return [_job_image_spec(client, base, flag, files, repository)[0] for flag in (True, False)]


def _with_requirements(
    files: Mapping[str, bytes], requirements: Path | None, project: str | None
) -> tuple[dict[str, bytes], str]:
    """The recipe's files and the image's repository: mlmax's, or with a project's own
    requirements file in place of mlmax's pins, in that project's repository."""
    if requirements is None:
        return dict(files), JOB_REPOSITORY
    own = {**files, REQUIREMENTS: _read_requirements(requirements)}
    return own, project_repository(project or requirements.parent.name)


def _job_image_spec(
    client: docker.DockerClient,
    base: str,
    with_debugpy: bool,
    files: Mapping[str, bytes],
    repository: str = JOB_REPOSITORY,
) -> tuple[str, str]:
    """The image's tag and full hash."""
    variant = {"BASE_IMAGE": base, "WITH_DEBUGPY": "1" if with_debugpy else "0"}
    digest = image_hash(files, client.api.inspect_image(base)["Id"], variant)
    tag = f"{repository}:{digest[:12]}" + ("" if with_debugpy else NODEBUG_SUFFIX)
    return tag, digest

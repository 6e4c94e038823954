"""debugpy for any image: the image itself if its python3 has debugpy, else a derived image.

The derived `mlmax-debug:<hash12>` installs debugpy from a wheelhouse downloaded on the host
for the image's own Python version and glibc, so the container needs no network. Which
Python and libc an image has is asked of the image itself (`probe_image`), cached by ID.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import docker
import docker.errors

from mlmax.common import Progress, cache_lock, or_default
from mlmax.localmode.image.base import LABEL_PREFIX, ImageBuildError, image_exists
from mlmax.localmode.image.build import (
    ROLE,
    Recipe,
    build,
    engine,
    wheelhouse_for,
)
from mlmax.localmode.image.job_image import (
    DEBUG_REQUIREMENTS,
    DEBUGPY_LABEL,
    IMAGE_CONFIG,
    image_config,
    read_recipe,
    recipe_dir,
    recipe_hash,
)
from mlmax.localmode.image.wheelhouse import manylinux_tags

DEBUG_REPOSITORY = "mlmax-debug"
INSTALL_SCRIPT = "install-debugpy.sh"
# The debugpy image's recipe: every file that decides what it adds (the hash covers them all).
DEBUG_RECIPE = (INSTALL_SCRIPT, IMAGE_CONFIG, DEBUG_REQUIREMENTS)

# Run inside the image: what is needed to pick debugpy wheels for its Python.
_PROBE = """
import json, platform, sys
try:
    import debugpy
    has_debugpy = True
except Exception:
    has_debugpy = False
try:
    import pip
    has_pip = True
except Exception:
    has_pip = False
libc, libc_version = platform.libc_ver()
print(json.dumps({"debugpy": has_debugpy, "pip": has_pip, "libc": libc,
                  "libc_version": libc_version, "machine": platform.machine(),
                  "python": "%d.%d" % sys.version_info[:2]}))
"""


def probe_image(image: str) -> dict[str, object]:
    """What the image's python3 offers: debugpy, pip, libc, machine, Python version."""
    with engine() as client:
        try:
            # Not containers.run(remove=True): it leaves the container behind when the
            # start itself fails (no python3 in the image).
            container = client.containers.create(
                image,
                entrypoint=["python3", "-c", _PROBE],
                command=[],
                network_disabled=True,
                labels={f"{LABEL_PREFIX}.role": "probe"},
            )
        except docker.errors.ImageNotFound:
            raise ImageBuildError(_not_in_engine(image)) from None
        try:
            container.start()
            code = container.wait(timeout=120)["StatusCode"]
            output = container.logs(stdout=True, stderr=False).decode()
            errors = container.logs(stdout=False, stderr=True).decode()
        except docker.errors.APIError as error:
            code, output, errors = -1, "", _short(error)
        finally:
            container.remove(force=True)
    if code != 0 or not output.strip():
        reason = _short(Exception(errors)) if errors.strip() else f"exit code {code}"
        raise ImageBuildError(
            f"Could not run python3 in image {image} ({reason}); debugging needs an "
            "image with python3 on its PATH."
        )
    return json.loads(output.strip().splitlines()[-1])


def ensure_debugpy_image(image: str, *, progress: Progress | None = None) -> str:
    """image itself if its python3 can import debugpy, else a derived image that can.

    The derived `mlmax-debug:<hash12>` installs debugpy from a wheelhouse downloaded on the
    host for the image's own Python version and glibc, so the container needs no network.
    """
    say = or_default(progress)
    with engine() as client:
        source_id, source_labels = _image_id_and_labels(client, image)
        # mlmax's job images say whether their recipe installed debugpy: no probe container
        # (which every debug run's start would wait for) for the image nearly every run uses.
        if source_labels.get(DEBUGPY_LABEL) == "1":
            return image
        # The probe's answer depends only on the image's contents: cache it by image ID.
        cached = _debug_images_for(client, source_id)
        if cached:
            return cached[0]
        facts = probe_image(image)
        if facts["debugpy"]:
            return image
        platforms = _platforms_for(image, facts)
        folder = recipe_dir()
        files = read_recipe(folder, DEBUG_RECIPE)
        digest = recipe_hash(
            files,
            source_image_id=source_id,
            python=facts["python"],
            platforms=list(platforms),
        )
        tag = f"{DEBUG_REPOSITORY}:{digest[:12]}"
        if image_exists(client, tag):
            return tag
        labels = {
            ROLE: "debug",
            DEBUGPY_LABEL: "1",
            f"{LABEL_PREFIX}.debug-hash": digest,
            f"{LABEL_PREFIX}.source-image": image,
            f"{LABEL_PREFIX}.source-image-id": source_id,
        }
        config = image_config(files, "debugpy", labels)
        with cache_lock("debug-image"):
            if image_exists(client, tag):
                return tag
            wheelhouse = wheelhouse_for(
                [folder / DEBUG_REQUIREMENTS],
                say,
                python_version=str(facts["python"]),
                platforms=platforms,
            )
            recipe = Recipe.script(INSTALL_SCRIPT, files, wheelhouse)
            say(f"Building {tag}: {image} plus debugpy")
            build(client, image, recipe, tag, config, say)
        return tag


def _platforms_for(image: str, facts: Mapping[str, object]) -> tuple[str, ...]:
    if facts["libc"] != "glibc" or facts["machine"] != "x86_64":
        raise ImageBuildError(
            f"Image {image} runs {facts['libc'] or 'an unknown libc'} on {facts['machine']}; "
            "mlmax can add debugpy only to glibc x86_64 images, so use an image with debugpy."
        )
    if not facts["pip"]:
        raise ImageBuildError(
            f"Image {image} has no pip for its python3, so debugpy cannot be added; "
            "use an image with pip or one with debugpy already installed."
        )
    minor = int(str(facts["libc_version"]).split(".")[1])
    return manylinux_tags(minor)


def _debug_images_for(client: docker.DockerClient, source_id: str) -> list[str]:
    """Tags of debug images already derived from this exact source image."""
    filters = {
        "label": [f"{LABEL_PREFIX}.role=debug", f"{LABEL_PREFIX}.source-image-id={source_id}"]
    }
    tags: list[str] = []
    for entry in client.api.images(filters=filters):
        tags += [t for t in entry.get("RepoTags") or [] if t.startswith(DEBUG_REPOSITORY + ":")]
    return sorted(tags)


def _image_id_and_labels(client: docker.DockerClient, image: str) -> tuple[str, dict[str, str]]:
    try:
        found = client.api.inspect_image(image)
    except docker.errors.ImageNotFound:
        raise ImageBuildError(_not_in_engine(image)) from None
    return found["Id"], found.get("Config", {}).get("Labels") or {}


def _not_in_engine(image: str) -> str:
    return f"Image {image} is not in the Docker engine; build it or load it with `docker load`."


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[-1][:200] if text else type(error).__name__

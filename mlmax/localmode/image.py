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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors

from mlmax.localmode.base_image import (
    LABEL_PREFIX,
    LOCAL_BASE_REPOSITORY,
    ImageBuildError,
    ensure_base_image,
    local_base_image,
)
from mlmax.localmode.docker_env import require_docker
from mlmax.localmode.wheelhouse import (
    MANYLINUX_X86_64,
    WheelhouseError,
    cache_lock,
    ensure_wheelhouse,
    manylinux_tags,
)
from mlmax.progress import Progress, or_default

JOB_REPOSITORY = "mlmax-job"
DEBUG_REPOSITORY = "mlmax-debug"
NODEBUG_SUFFIX = "-nodebug"
REQUIREMENTS = "requirements.txt"
DEBUG_REQUIREMENTS = "requirements-debug.txt"
# The `serve` executable SageMaker hosting runs (see mlmax/job_image/serve).
SERVE_SCRIPT = "serve"
_BUILD_TIMEOUT_S = 3600
_STEP = re.compile(r"^Step \d+/\d+ : ")

__all__ = [
    "ImageBuildError",
    "JobImage",
    "PruneResult",
    "docker_dir",
    "ensure_debugpy_image",
    "ensure_job_image",
    "image_hash",
    "list_job_images",
    "prune_job_images",
]


@contextlib.contextmanager
def _engine() -> Iterator[docker.DockerClient]:
    """A checked connection to the engine, closed afterwards."""
    client = require_docker(for_jobs=False)
    try:
        yield client
    finally:
        client.close()


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
    with _engine() as client:
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
        if _exists(client, tag):
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
            if _exists(client, tag):  # built by another process while we waited
                return tag
            wheelhouse = _wheelhouse(requirement_paths, say)
            # The Dockerfile labels the image itself (role, hash, debugpy, base) in one step.
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
        if not _exists(client, tag):
            say(f"Building job image {tag}: {job_image} without debugpy")
            _build(client, {"Dockerfile": dockerfile}, None, tag, {}, {}, digest, say)
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
    with _engine() as client:
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


def _wheelhouse(requirement_files: Sequence[Path], say: Progress, **kwargs: Any) -> Path:
    try:
        return ensure_wheelhouse(requirement_files, progress=say, **kwargs)
    except WheelhouseError as error:
        raise ImageBuildError(str(error)) from None


def _build(
    client: docker.DockerClient,
    files: Mapping[str, Path | bytes],
    wheelhouse: Path | None,
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
                                say("  " + _one_line(line))
                if "error" in chunk:
                    error = chunk["error"].strip()
        finally:
            _remove_build_stage(client, digest)
    if error is not None or not _exists(client, tag):
        last = " | ".join(list(tail)[-6:])
        raise ImageBuildError(f"Building {tag} failed: {error or 'no image produced'} ({last}).")
    size = client.api.inspect_image(tag)["Size"] / 1e6
    say(f"Built {tag} ({size:.0f} MB) in {time.monotonic() - started:.0f} s")


def _one_line(step: str, width: int = 110) -> str:
    """A build step as one readable line: whitespace collapsed, long commands cut."""
    text = " ".join(step.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _write_context(
    fileobj: IO[bytes], files: Mapping[str, Path | bytes], wheelhouse: Path | None
) -> None:
    """A tar build context straight from the sources: no copy of the wheels on disk."""
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for name, source in files.items():
            if isinstance(source, bytes):
                info = tarfile.TarInfo(name)
                info.size = len(source)
                info.mode = 0o755 if name == SERVE_SCRIPT else 0o644
                tar.addfile(info, io.BytesIO(source))
            else:
                tar.add(str(source), arcname=name, recursive=False)
        if wheelhouse is None:  # a derived image: the Dockerfile is the whole context
            return
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
    with _engine() as client:
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
    with _engine() as client:
        source_id = _image_id(client, image)
        # The probe's answer depends only on the image's contents: cache it by image ID.
        cached = _debug_images_for(client, source_id)
        if cached:
            return cached[0]
        facts = probe_image(image)
        if facts["debugpy"]:
            return image
        platforms = _platforms_for(image, facts)
        folder = docker_dir()
        dockerfile = (folder / "Dockerfile.debugpy").read_bytes()
        requirements = (folder / DEBUG_REQUIREMENTS).read_bytes()
        build_args = {"SOURCE_IMAGE": image}
        digest = hashlib.sha256(
            json.dumps(
                {
                    "dockerfile": hashlib.sha256(dockerfile).hexdigest(),
                    "requirements": hashlib.sha256(requirements).hexdigest(),
                    "source_image_id": source_id,
                    "python": facts["python"],
                    "platforms": list(platforms),
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()
        tag = f"{DEBUG_REPOSITORY}:{digest[:12]}"
        if _exists(client, tag):
            return tag
        with cache_lock("debug-image"):
            if _exists(client, tag):
                return tag
            wheelhouse = _wheelhouse(
                [folder / DEBUG_REQUIREMENTS],
                say,
                python_version=str(facts["python"]),
                platforms=platforms,
            )
            labels = {
                f"{LABEL_PREFIX}.role": "debug",
                f"{LABEL_PREFIX}.debugpy": "1",
                f"{LABEL_PREFIX}.debug-hash": digest,
                f"{LABEL_PREFIX}.source-image": image,
                f"{LABEL_PREFIX}.source-image-id": source_id,
            }
            say(f"Building {tag}: {image} plus debugpy")
            _build(
                client,
                {"Dockerfile": dockerfile, DEBUG_REQUIREMENTS: requirements},
                wheelhouse,
                tag,
                build_args,
                labels,
                digest,
                say,
            )
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


def _image_id(client: docker.DockerClient, image: str) -> str:
    try:
        return client.api.inspect_image(image)["Id"]
    except docker.errors.ImageNotFound:
        raise ImageBuildError(_not_in_engine(image)) from None


def _not_in_engine(image: str) -> str:
    return f"Image {image} is not in the Docker engine; build it or load it with `docker load`."


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[-1][:200] if text else type(error).__name__


# --- listing and pruning ------------------------------------------------------------------

# An image is ours when both its label and its repository say so: images built FROM ours
# (a dev container, a user's own) inherit our labels but not our repository names.
_REPOSITORY_OF_ROLE = {
    "job": JOB_REPOSITORY,
    "debug": DEBUG_REPOSITORY,
    "base": LOCAL_BASE_REPOSITORY,
}


@dataclass(frozen=True)
class JobImage:
    """One image mlmax made: a job image, a debug image derived from one, or a base."""

    tag: str
    id: str
    role: str
    debugpy: bool | None
    size_mb: float
    created: int


@dataclass(frozen=True)
class PruneResult:
    removed: list[str]
    kept: list[str]
    in_use: list[str]


def list_job_images() -> list[JobImage]:
    """Every image mlmax built in this engine, newest first."""
    with _engine() as client:
        images: list[JobImage] = []
        for entry in client.api.images(filters={"label": f"{LABEL_PREFIX}.role"}):
            labels = entry.get("Labels") or {}
            role = labels.get(f"{LABEL_PREFIX}.role", "")
            debugpy = {"1": True, "0": False}.get(labels.get(f"{LABEL_PREFIX}.debugpy", ""))
            if role == "debug":
                debugpy = True
            ours = [
                tag
                for tag in entry.get("RepoTags") or []
                if tag.partition(":")[0] == _REPOSITORY_OF_ROLE.get(role)
                or (role == "job" and tag.startswith(JOB_REPOSITORY + "-"))
            ]
            for tag in ours:
                images.append(
                    JobImage(
                        tag=tag,
                        id=entry["Id"],
                        role=role,
                        debugpy=debugpy,
                        size_mb=entry["Size"] / 1e6,
                        created=entry["Created"],
                    )
                )
        return sorted(images, key=lambda image: (-image.created, image.tag))


def prune_job_images(keep_current: bool = True) -> PruneResult:
    """Remove job and debug images (bases are kept: they are slow to remake offline).

    With keep_current, the images the current workspace would use stay, and so do debug
    images derived from them. Images a container still uses are left and reported.
    """
    with _engine() as client:
        images = [image for image in list_job_images() if image.role in ("job", "debug")]
        keep_tags = set(current_job_tags()) if keep_current else set()
        keep_ids = {image.id for image in images if image.tag in keep_tags}
        removed: list[str] = []
        kept: list[str] = []
        in_use: list[str] = []
        for image in images:
            source_id = ""
            if image.role == "debug":
                labels = client.api.inspect_image(image.id)["Config"].get("Labels") or {}
                source_id = labels.get(f"{LABEL_PREFIX}.source-image-id", "")
            if image.id in keep_ids or source_id in keep_ids:
                kept.append(image.tag)
                continue
            try:
                client.api.remove_image(image.tag)
            except docker.errors.APIError as error:
                if error.status_code == 409:
                    in_use.append(image.tag)
                    continue
                raise
            removed.append(image.tag)
        return PruneResult(removed=removed, kept=kept, in_use=in_use)

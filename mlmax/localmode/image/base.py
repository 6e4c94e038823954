"""The base image the job image is built on, made locally when no registry can be reached.

Order: the requested image if the engine already has it; else a pull; else (only for the
default base) a minimal Debian with python3 built offline by mmdebstrap from this host's
own Debian package sources and imported into the engine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections import deque
from pathlib import Path

import docker
import docker.errors
from docker.utils import parse_repository_tag

from mlmax.common import EnvironmentNotReadyError, Progress, cache_lock, or_default

DEFAULT_BASE_IMAGE = "python:3.11-slim"
BASE_IMAGE_ENV = "MLMAX_BASE_IMAGE"
LOCAL_BASE_REPOSITORY = "mlmax-base"
LABEL_PREFIX = "org.mlmax"

# What goes into the offline base. Bump RECIPE_VERSION when changing how it is made.
RECIPE_VERSION = "1"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
# Debian's installer writes debian.sources; an image made by mmdebstrap has 0000debian.sources.
DEBIAN_SOURCES = APT_SOURCES_DIR / "debian.sources"


def debian_sources(directory: Path = APT_SOURCES_DIR) -> Path | None:
    """The host's deb822 file with the Debian mirrors, or None when there is none."""
    candidates = [directory / "debian.sources", *sorted(directory.glob("*debian*.sources"))]
    return next((path for path in candidates if path.is_file()), None)


MERGED_USR_HOOK = Path("/usr/share/mmdebstrap/hooks/merged-usr")
_PATH_EXCLUDES = (
    "/usr/share/man/*",
    "/usr/share/doc/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    "/usr/share/lintian/*",
)
# The copyright files stay: they are the licences of what the image ships.
_PATH_INCLUDES = ("/usr/share/doc/*/copyright",)
# mmdebstrap copies the host's resolver and name into the root filesystem; an image must
# carry neither (the engine provides both at run time).
_CUSTOMIZE_HOOKS = (
    'echo localhost > "$1/etc/hostname"',
    'rm -f "$1/etc/resolv.conf" && : > "$1/etc/resolv.conf"',
)
_IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


class ImageBuildError(EnvironmentNotReadyError, RuntimeError):
    """An image mlmax needs could not be built; the message is one sentence with the fix."""


def requested_base_image(base_image: str | None = None) -> tuple[str, bool]:
    """The base image to use and whether the user chose it (argument or MLMAX_BASE_IMAGE)."""
    chosen = base_image or os.environ.get(BASE_IMAGE_ENV)
    return (chosen, True) if chosen else (DEFAULT_BASE_IMAGE, False)


def ensure_base_image(
    client: docker.DockerClient,
    base_image: str | None = None,
    *,
    progress: Progress | None = None,
) -> str:
    """A reference to a base image present in the engine, pulling or building it if needed."""
    say = or_default(progress)
    wanted, chosen = requested_base_image(base_image)
    if image_exists(client, wanted):
        return wanted
    offline = None if chosen else offline_base_tag()
    if offline is not None and image_exists(client, offline):
        # Built here before: use it rather than asking a registry again on every run.
        return offline
    if _try_pull(client, wanted):
        say(f"Pulled base image {wanted}")
        return wanted
    if chosen:
        raise ImageBuildError(
            f"Base image {wanted} is neither in the Docker engine nor pullable; load it with "
            f"`docker load`, or unset {BASE_IMAGE_ENV} to let mlmax build a Debian base offline."
        )
    return ensure_offline_base(client, progress=say)


def local_base_image(client: docker.DockerClient, base_image: str | None = None) -> str | None:
    """The base that ensure_base_image would use, if it is already present; never builds."""
    wanted, chosen = requested_base_image(base_image)
    if image_exists(client, wanted):
        return wanted
    if chosen:
        return None
    tag = offline_base_tag()
    return tag if tag and image_exists(client, tag) else None


def offline_base_tag() -> str | None:
    """mlmax-base:<codename>-<hash> for this host's Debian sources, or None off Debian."""
    codename = _debian_codename()
    sources = debian_sources()
    if codename is None or sources is None:
        return None
    digest = hashlib.sha256()
    for part in (
        RECIPE_VERSION,
        codename,
        sources.read_text(),
        *PACKAGES,
        *_PATH_EXCLUDES,
        *_PATH_INCLUDES,
        *_CUSTOMIZE_HOOKS,
        *_IMAGE_CHANGES,
    ):
        digest.update(part.encode() + b"\0")
    return f"{LOCAL_BASE_REPOSITORY}:{codename}-{digest.hexdigest()[:12]}"


def ensure_offline_base(client: docker.DockerClient, *, progress: Progress | None = None) -> str:
    """Build (once) a minimal Debian + python3 image from the host's Debian sources."""
    say = or_default(progress)
    tag = offline_base_tag()
    if tag is None:
        raise ImageBuildError(
            f"No base image is available and this host has no Debian sources at {DEBIAN_SOURCES} "
            f"to build one from; load a Python 3.11 image with `docker load` and set "
            f"{BASE_IMAGE_ENV} to its name."
        )
    if image_exists(client, tag):
        return tag
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise ImageBuildError(
            "mmdebstrap is not installed; install it with: apt-get install -y mmdebstrap"
        )
    with cache_lock("base-image"):
        if image_exists(client, tag):  # built by another process while we waited
            return tag
        say(f"Building base image {tag} from Debian packages with mmdebstrap (about 20 s)")
        with tempfile.TemporaryDirectory(prefix="mlmax-base-") as tmp:
            rootfs_tar = Path(tmp) / "rootfs.tar"
            _run_mmdebstrap(mmdebstrap, rootfs_tar, say)
            say(f"Importing {rootfs_tar.stat().st_size / 1e6:.0f} MB root filesystem as {tag}")
            repository, image_tag = parse_repository_tag(tag)
            changes = [
                *_IMAGE_CHANGES,
                f"LABEL {LABEL_PREFIX}.role=base {LABEL_PREFIX}.base-recipe={RECIPE_VERSION}",
            ]
            client.api.import_image(
                src=str(rootfs_tar), repository=repository, tag=image_tag, changes=changes
            )
    if not image_exists(client, tag):
        raise ImageBuildError(f"Importing the base image {tag} into Docker failed; see above.")
    return tag


def _run_mmdebstrap(mmdebstrap: str, output: Path, say: Progress) -> None:
    codename = _debian_codename()
    command = [
        mmdebstrap,
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        "--format=tar",
    ]
    if MERGED_USR_HOOK.is_dir():
        # Merged /usr without pulling perl and usrmerge into the image.
        command.append(f"--hook-dir={MERGED_USR_HOOK}")
    command += [f"--dpkgopt=path-exclude={p}" for p in _PATH_EXCLUDES]
    command += [f"--dpkgopt=path-include={p}" for p in _PATH_INCLUDES]
    command += [f"--customize-hook={hook}" for hook in _CUSTOMIZE_HOOKS]
    command += [str(codename), str(output), str(debian_sources())]
    tail: deque[str] = deque(maxlen=15)
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            line = line.rstrip()
            tail.append(line)
            if line.startswith("I: "):
                say("  mmdebstrap: " + line[3:])
        code = process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    if code != 0:
        last = " | ".join(tail) or f"exit code {code}"
        raise ImageBuildError(
            f"mmdebstrap could not build the base image ({last}); check that the Debian "
            f"mirrors in {DEBIAN_SOURCES} are reachable and that you run as root."
        )


def _debian_codename() -> str | None:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return None
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return fields.get("VERSION_CODENAME", "").strip('"') or None


def image_exists(client: docker.DockerClient, reference: str) -> bool:
    """Whether the engine has the image `reference` (a tag or an ID)."""
    try:
        client.api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


def _try_pull(client: docker.DockerClient, reference: str) -> bool:
    """One quick pull attempt; without a registry the engine fails it at once."""
    repository, tag = parse_repository_tag(reference)
    try:
        client.api.pull(repository, tag=tag or "latest")
    except docker.errors.APIError:
        return False
    return image_exists(client, reference)

"""One offline image build through the classic builder: a tar context, streamed steps, clean-up.

Shared by the job image (`image.py`) and the debugpy images (`debug_image.py`): the context
is written straight from the sources (no copy of the wheels on disk), each `Step n/m` line
is shown as progress, and the build stage the wheels went into is removed afterwards.
"""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors

from mlmax.localmode.base_image import LABEL_PREFIX, ImageBuildError
from mlmax.localmode.docker_checks import require_docker
from mlmax.localmode.wheelhouse import WheelhouseError, ensure_wheelhouse
from mlmax.progress import Progress

# The `serve` executable SageMaker hosting runs (see mlmax/job_image/serve).
SERVE_SCRIPT = "serve"
_BUILD_TIMEOUT_S = 3600
_STEP = re.compile(r"^Step \d+/\d+ : ")


@contextlib.contextmanager
def engine() -> Iterator[docker.DockerClient]:
    """A checked connection to the engine, closed afterwards."""
    client = require_docker(for_jobs=False)
    try:
        yield client
    finally:
        client.close()


def wheelhouse_for(requirement_files: Sequence[Path], say: Progress, **kwargs: Any) -> Path:
    try:
        return ensure_wheelhouse(requirement_files, progress=say, **kwargs)
    except WheelhouseError as error:
        raise ImageBuildError(str(error)) from None


def build(
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
    if error is not None or not image_exists(client, tag):
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


def image_exists(client: docker.DockerClient, reference: str) -> bool:
    try:
        client.api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return False
    return True

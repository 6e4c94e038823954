"""One offline image build: a recipe run in a container of the source image, then committed.

Shared by the job image and its -nodebug variant (`image.py`) and the debugpy images
(`debug_variant.py`). A container of the source image, network disabled, gets the recipe's
files and wheelhouse as one uploaded tar (put_archive works with any engine, also one used
from a dev container, where bind-mount paths would be resolved on the host); its command's
output is shown line by line as progress; on exit 0 it is committed with the image config
set explicitly; it is always removed. The command deletes the upload before it exits, so
the wheels never reach the image: the result is one layer on top of the source.

Not the classic builder (engines without BuildKit): for the job image its COPY layer of the
wheels, the build stage's commit, `COPY --from` re-taring the venv and a container plus
commit per metadata step would be most of the build's time.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
from docker.utils import parse_repository_tag

from mlmax.common import Progress
from mlmax.localmode.engine import current_session, disowned, require_docker
from mlmax.localmode.image.base import LABEL_PREFIX, ImageBuildError
from mlmax.localmode.image.wheelhouse import WheelhouseError, ensure_wheelhouse

# Where a recipe's files (and its wheelhouse/) are uploaded in the build container.
UPLOAD_DIR = "/tmp/mlmax"
ROLE = f"{LABEL_PREFIX}.role"
_BUILD_TIMEOUT_S = 3600
_TAIL_LINES = 6
# PATH when the source image sets none (the engine's default for a container).
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Recipe:
    """What runs in the build container: files (and wheels) uploaded to UPLOAD_DIR, a command."""

    files: Mapping[str, bytes]
    command: Sequence[str]
    wheelhouse: Path | None = None

    @classmethod
    def script(
        cls, name: str, files: Mapping[str, bytes], wheelhouse: Path | None = None
    ) -> Recipe:
        """The recipe whose command is its own shell script `name`, one of `files`."""
        return cls(files, ["/bin/sh", f"{UPLOAD_DIR}/{name}"], wheelhouse)


@dataclass(frozen=True)
class ImageConfig:
    """What the image says besides its files; what is not set here is the source image's.

    `labels` must name the image's role: the build container's role label (`build`) would
    otherwise stay in the image.
    """

    labels: Mapping[str, str]
    env: Mapping[str, str] = field(default_factory=dict)
    path: Sequence[str] = ()  # folders put in front of the source image's PATH
    cmd: Sequence[str] | None = None


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
    source: str,
    recipe: Recipe,
    tag: str,
    config: ImageConfig,
    say: Progress,
) -> None:
    """Run `recipe` in a container of `source` and commit it as `tag`; never leave it behind.

    The container carries this session's owner labels, so one a SIGKILLed build left is swept
    by the next session or `mlmax clean`; anything else (a failure, Ctrl-C) removes it here.
    """
    started = time.monotonic()
    source_config = client.api.inspect_image(source)["Config"]
    container = client.api.create_container(
        source,
        entrypoint=list(recipe.command),
        command=[],
        network_disabled=True,
        labels={**config.labels, ROLE: "build", **current_session().owner()},
    )["Id"]
    try:
        _upload(client, container, recipe)
        client.api.start(container)
        code, tail = _follow(client, container, say)
        if code != 0:
            raise ImageBuildError(
                f"Building {tag} failed: its install command exited with code {code} "
                f"({' | '.join(tail) or 'no output'})."
            )
        repository, version = parse_repository_tag(tag)
        conf = _commit_config(source_config, config)
        # The command as the layer's comment: `docker history` then says what made it.
        message = _cut(" ".join(recipe.command), 200)
        client.api.commit(container, repository, version, message=message, conf=conf)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(container, force=True, v=True)
    size = client.api.inspect_image(tag)["Size"] / 1e6
    say(f"Built {tag} ({size:.0f} MB) in {time.monotonic() - started:.0f} s")


def _follow(client: docker.DockerClient, container: str, say: Progress) -> tuple[int, list[str]]:
    """Show the command's output line by line until it exits; its exit code and last lines."""
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    pending = b""

    def show(raw: bytes) -> None:
        line = " ".join(raw.decode("utf-8", errors="replace").split())
        if line:
            tail.append(line)
            say("  " + _cut(line))

    # The log stream starts at the container's first line, so nothing printed before it is
    # attached is missed; frames do not follow line ends, hence the pending part.
    for chunk in client.api.logs(container, stream=True, follow=True):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            show(line)
    show(pending)
    code = client.api.wait(container, timeout=_BUILD_TIMEOUT_S)["StatusCode"]
    return code, list(tail)


def _cut(line: str, width: int = 110) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def _upload(client: docker.DockerClient, container: str, recipe: Recipe) -> None:
    """The recipe's files and wheels into UPLOAD_DIR, as one tar written straight from them."""
    with tempfile.TemporaryFile(prefix="mlmax-recipe-") as archive:
        _write_tar(archive, recipe)
        archive.seek(0)
        client.api.put_archive(container, str(Path(UPLOAD_DIR).parent), archive)


def _write_tar(fileobj: IO[bytes], recipe: Recipe) -> None:
    top = Path(UPLOAD_DIR).name

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        folder = tarfile.TarInfo(top)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(as_root(folder))
        for name, content in recipe.files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(content), 0o644
            tar.addfile(as_root(info), io.BytesIO(content))
        if recipe.wheelhouse is None:
            return
        wheels = f"{top}/wheelhouse"
        tar.add(str(recipe.wheelhouse), arcname=wheels, recursive=False, filter=as_root)
        for wheel in sorted(recipe.wheelhouse.glob("*.whl")):
            tar.add(str(wheel), arcname=f"{wheels}/{wheel.name}", filter=as_root)


def _commit_config(source: Mapping[str, Any], config: ImageConfig) -> dict[str, Any]:
    """The image config, every part that the build container changed set explicitly.

    A commit keeps the container's config where this leaves a gap: its command (the install
    command) as CMD and ENTRYPOINT, its labels (owner, role=build) as the image's.
    """
    env = dict(item.partition("=")[::2] for item in source.get("Env") or [])
    env.update(config.env)
    if config.path:  # from the source's Env: nothing expands $PATH in a committed config
        env["PATH"] = ":".join([*config.path, env.get("PATH") or _DEFAULT_PATH])
    return {
        "Env": [f"{name}={value}" for name, value in env.items()],
        "Cmd": list(config.cmd) if config.cmd is not None else source.get("Cmd"),
        # [] where the source has none: an absent ENTRYPOINT would be the container's.
        "Entrypoint": source.get("Entrypoint") or [],
        "Labels": {**config.labels, **disowned()},
    }

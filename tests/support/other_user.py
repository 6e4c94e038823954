"""A second, non-root user for tests that must run something as someone else.

Created once with `useradd` (root only, as CI runs) and kept: later runs reuse it. Commands
run as the user through `DockerUser.run`, and `reachable_by_others` lets the user reach this
checkout's interpreter while a test needs it. `local_user` makes any other user, e.g. one
outside the docker group.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

USER = "mlmax-test-user"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DockerUser:
    name: str
    uid: int
    home: Path
    setpriv: str

    def command(self, *argv: str) -> list[str]:
        """`argv` run as this user with their groups (docker among them).

        Through a shell's `exec`: setpriv itself execs while it still holds root's
        capabilities, so it can start an interpreter the user could not reach; the shell
        cannot, exactly like every process the user's commands start in turn.
        """
        user = [self.setpriv, f"--reuid={self.uid}", f"--regid={self.name}", "--init-groups"]
        return [*user, "/bin/sh", "-c", 'exec "$@"', "sh", *argv]

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "LANG": "C.UTF-8",
            # The checkout is not the user's: no bytecode caches written next to its sources.
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if "DOCKER_HOST" in os.environ:
            env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
        return env

    def run(
        self, *argv: str, cwd: Path, timeout: float, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*argv),
            cwd=cwd,
            env={**self.environment(), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert done.returncode == 0, (
                f"{' '.join(argv)} as {self.name} exited with {done.returncode}:\n"
                f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
            )
        return done


def create_user(name: str = USER, groups: tuple[str, ...] = ("docker",)) -> None:
    """`useradd -m` once; every run puts the user in exactly `groups` (later runs reuse it)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", name], check=True, capture_output=True)
    subprocess.run(["usermod", "-G", ",".join(groups), name], check=True, capture_output=True)


def local_user(name: str, groups: tuple[str, ...] = ()) -> DockerUser:
    """The user `name` in exactly `groups` (none: not even docker), created if need be.

    Only root can create users: anyone else skips, saying so (CI runs the suite as root).
    """
    if os.getuid() != 0:
        pytest.skip(f"needs root to create the test user {name!r}; CI runs the suite as root")
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run commands as another user"
    create_user(name, groups)
    entry = pwd.getpwnam(name)
    return DockerUser(name, entry.pw_uid, Path(entry.pw_dir), setpriv)


# One record per machine: other sessions' tests (other checkouts too) open the same
# directories up, and only the last one to finish may close them again.
_MODES = Path(tempfile.gettempdir()) / "mlmax-tests-reachable-modes.json"
_IN_USE = Path(tempfile.gettempdir()) / "mlmax-tests-reachable.lock"


@contextlib.contextmanager
def reachable_by_others(paths: list[Path]) -> Iterator[None]:
    """Let other users search (x, not read) the directories above `paths`, then restore.

    The suite's interpreter may live under root's home (0700 on Debian, e.g. a pyenv), which
    another user never has to reach on their own machine: their Python is theirs. Each
    process using it holds a shared lock; the last to leave puts the modes back (also those
    a killed run left recorded).
    """
    with open(_IN_USE, "a") as in_use:
        with _changing_modes():
            recorded = _recorded()
            for path in paths:
                for parent in path.resolve().parents:
                    mode = parent.stat().st_mode
                    if not mode & 0o001 and str(parent) not in recorded:
                        recorded[str(parent)] = mode & 0o7777
                        _MODES.write_text(json.dumps(recorded))
                        parent.chmod((mode & 0o7777) | 0o001)
            fcntl.flock(in_use, fcntl.LOCK_SH)
        try:
            yield
        finally:
            with _changing_modes():
                fcntl.flock(in_use, fcntl.LOCK_UN)
                if _nobody_else_holds(in_use):
                    for name, mode in _recorded().items():
                        with contextlib.suppress(FileNotFoundError):
                            Path(name).chmod(mode)
                    _MODES.unlink(missing_ok=True)


@contextlib.contextmanager
def _changing_modes() -> Iterator[None]:
    """One process at a time opens directories up or restores them."""
    with open(f"{_IN_USE}.change", "a") as mutex:
        fcntl.flock(mutex, fcntl.LOCK_EX)
        yield


def _nobody_else_holds(in_use: IO[str]) -> bool:
    try:
        fcntl.flock(in_use, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another process still needs the directories open
        return False
    return True


def _recorded() -> dict[str, int]:
    try:
        return dict(json.loads(_MODES.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


@contextlib.contextmanager
def checkout_reachable() -> Iterator[None]:
    """The suite's interpreter and this checkout reachable by other users."""
    with reachable_by_others([Path(sys.executable), Path(sys.base_prefix), REPO]):
        yield

"""A second, non-root user for tests that must run something as someone else.

Created once with `useradd` (root only, as CI runs) and kept: later runs reuse it. Commands
run as the user through `DockerUser.run`, and `reachable_by_others` lets the user reach this
checkout's interpreter while a test needs it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "mlmax-test-user"


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
        self, *argv: str, cwd: Path, timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*argv),
            cwd=cwd,
            env=self.environment(),
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


def create_user() -> None:
    """`useradd -m -G docker` once; later runs reuse the user (and keep it in the group)."""
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-G", "docker", USER], check=True, capture_output=True)
    else:
        subprocess.run(["usermod", "-aG", "docker", USER], check=True, capture_output=True)


@contextlib.contextmanager
def reachable_by_others(paths: list[Path]) -> Iterator[None]:
    """Let other users search (x, not read) the directories above `paths`, then restore.

    The suite's interpreter may live under root's home (0700 on Debian, e.g. a pyenv), which
    a user in the docker group never has to reach on their own machine: their Python is theirs.
    """
    changed: dict[Path, int] = {}
    for path in paths:
        for parent in path.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & 0o001 and parent not in changed:
                changed[parent] = mode
                parent.chmod((mode & 0o7777) | 0o001)
    try:
        yield
    finally:
        for parent, mode in changed.items():
            parent.chmod(mode & 0o7777)

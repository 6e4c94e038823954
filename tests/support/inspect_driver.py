"""Drive an inspect run the way VS Code's task does: a pytest subprocess read line by line.

`InspectRun` starts `python -m pytest --smlocal --inspectlocal ...` with its output on a pipe
or on a pseudo-terminal, collects lines in a thread, and lets a test wait for a line matching
a pattern with a deadline. It always ends the subprocess (its whole process group).
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(
    r"debugpy listening on 127\.0\.0\.1:(?P<port>\d+) \(job (?P<job>.+?), code (?P<code>\S+)\)"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def line_of(path: Path, text: str) -> int:
    """The number of the line of `path` containing `text` (robust to edits above it)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {path}")


class InspectRun:
    def __init__(
        self,
        args: list[str],
        *,
        use_pty: bool = False,
        basetemp: Path | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        cwd: Path = REPO,
    ) -> None:
        # `command` runs something other than pytest (e.g. `mlmax debug`), `args` appended.
        if command is None:
            command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        command = [*command, *args]
        if basetemp is not None:
            command.append(f"--basetemp={basetemp}")
        environment = {**os.environ, **(env or {})}
        environment.pop("PYTEST_ADDOPTS", None)
        environment.pop("PYTEST_XDIST_WORKER", None)
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._eof = False
        if use_pty:
            primary, secondary = pty.openpty()
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=secondary,
                stderr=secondary,
                start_new_session=True,
            )
            os.close(secondary)
            self._stream = os.fdopen(primary, "rb", buffering=0)
        else:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            assert self.process.stdout is not None
            self._stream = self.process.stdout
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                try:
                    chunk = os.read(self._stream.fileno(), 65536)
                except OSError:  # EIO on a pty once the child is gone
                    chunk = b""
                if not chunk:
                    break
                buffer += chunk
                *complete, buffer = re.split(rb"\r?\n", buffer)
                self._add(complete)
            if buffer:
                self._add([buffer])
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _add(self, raw_lines: list[bytes]) -> None:
        now = time.monotonic() - self.started
        with self._cond:
            for raw in raw_lines:
                text = _ANSI.sub("", raw.decode("utf-8", errors="replace")).replace("\r", "")
                self.lines.append((now, text))
            self._cond.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> tuple[float, re.Match[str]]:
        """(seconds since start, match) of the first line matching `pattern`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for at, line in self.lines:
                    match = pattern.search(line)
                    if match:
                        return at, match
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    why = "the run ended" if self._eof else f"{timeout:g} s passed"
                    raise AssertionError(
                        f"no line matching {pattern.pattern!r}; {why}. Output:\n{self.output}"
                    )
                self._cond.wait(remaining)

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(line for _, line in self.lines)

    def wait(self, timeout: float) -> int:
        """The exit code; fails the test if the run does not end in time."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the inspect run did not end within {timeout:g} s. Output:\n{self.output}"
            ) from None
        self._reader.join(10)
        return code

    def interrupt(self) -> None:
        """Ctrl-C as a terminal sends it: SIGINT to the run's whole process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self._reader.join(10)
        with contextlib.suppress(OSError):
            self._stream.close()

    def __enter__(self) -> InspectRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

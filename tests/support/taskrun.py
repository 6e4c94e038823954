"""Running a task's process: to completion, or in the background under a pseudo-terminal.

VS Code runs tasks in a terminal (a pty); a background task is "ready" when a line of its
output matches the problem matcher's `endsPattern`. `BackgroundTask` does the same: it reads
the pty on a thread and lets a test wait, with a deadline, for a pattern or for the exit.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import signal
import subprocess
import threading
import time

from tests.support.vscode import TaskCommand


def run_to_completion(command: TaskCommand, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the task; stdout and stderr together, as the terminal shows them."""
    return subprocess.run(
        command.argv,
        cwd=command.cwd,
        env=command.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )


# What a task's command line selects, without running it: collection only, and without
# assertion rewriting, which changes no test id and is a third of a cold collection's time.
COLLECT_ONLY = ("--collect-only", "-q", "-p", "no:cacheprovider", "--assert=plain")


def collected_ids(output: str) -> list[str]:
    """The test ids `pytest --collect-only -q` printed, in order."""
    return [line for line in output.splitlines() if "::" in line]


class BackgroundTask:
    """A task process in its own session on a pty; always stopped on exit."""

    def __init__(self, command: TaskCommand) -> None:
        self.command = command
        self._output = ""
        self._cond = threading.Condition()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> BackgroundTask:
        controller, terminal = pty.openpty()
        try:
            self._process = subprocess.Popen(
                self.command.argv,
                cwd=self.command.cwd,
                env={**self.command.env, "TERM": "xterm-256color"},
                stdin=terminal,
                stdout=terminal,
                stderr=terminal,
                start_new_session=True,
            )
        finally:
            os.close(terminal)
        self._reader = threading.Thread(target=self._read, args=(controller,), daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def output(self) -> str:
        with self._cond:
            return self._output

    def _read(self, controller: int) -> None:
        try:
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                with self._cond:
                    self._output += chunk.decode(errors="replace").replace("\r\n", "\n")
                    self._cond.notify_all()
        finally:
            os.close(controller)
            with self._cond:
                self._cond.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> str:
        """The first output line matching `pattern`; AssertionError with the output if none."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._output.splitlines():
                    if pattern.search(line):
                        return line
                assert self._process is not None
                finished = self._process.poll() is not None and not self._reader_alive()
                remaining = deadline - time.monotonic()
                if finished or remaining <= 0:
                    why = "the task exited" if finished else f"no match within {timeout:.0f} s"
                    raise AssertionError(
                        f"{why} before a line matched {pattern.pattern!r}; output:\n"
                        + self._output[-6000:]
                    )
                self._cond.wait(min(remaining, 1.0))

    def wait_exit(self, timeout: float) -> int:
        assert self._process is not None
        code = self._process.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=10)
        return code

    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def stop(self) -> None:
        """Ctrl-C the task (its own clean-up runs), then kill it if it does not end."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        for sig, grace in ((signal.SIGINT, 60), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue

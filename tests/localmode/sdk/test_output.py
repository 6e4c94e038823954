"""Compose's output, as the SDK streams it, goes to the stream a run names, from the run's
SDK thread, and nowhere else changes: sys.stdout stays the process's own."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from mlmax.localmode.sdk import SdkThread, install_sdk_hooks, sdk_output_to


def _compose_like(*lines: str) -> subprocess.Popen[bytes]:
    # A real process, read the way the SDK reads docker-compose (stdout piped, stderr joined).
    script = "import sys\nfor line in sys.argv[1:]: print(line)\n"
    return subprocess.Popen(
        [sys.executable, "-c", script, *lines], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _stream_in_sdk_thread(process: subprocess.Popen[bytes]) -> SdkThread:
    from sagemaker.train.local import local_container

    thread = SdkThread("probe", lambda: local_container._stream_output(process))
    thread.start()
    thread.join(60)
    return thread


def test_a_named_stream_gets_the_sdks_echo_and_stdout_stays(capsys: pytest.CaptureFixture) -> None:
    install_sdk_hooks()
    stdout = sys.stdout
    sink = io.StringIO()
    with sdk_output_to(sink):
        thread = _stream_in_sdk_thread(_compose_like("creating algo-1", "algo-1 exited"))
        assert sys.stdout is stdout
    assert thread.error is None
    assert sink.getvalue().splitlines() == ["creating algo-1", "algo-1 exited"]
    assert "algo-1" not in capsys.readouterr().out


class _SlowReader(io.StringIO):
    """A stream whose first write lasts until the process has exited: the lines after the
    first are then still in the pipe when the loop sees the exit."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__()
        self.process = process

    def write(self, text: str) -> int:
        self.process.wait(timeout=60)
        return super().write(text)


def test_the_lines_written_just_before_the_exit_reach_the_stream_too() -> None:
    install_sdk_hooks()
    lines = ["creating algo-1", "training done", "algo-1 exited with code 0"]
    process = _compose_like(*lines)
    sink = _SlowReader(process)
    with sdk_output_to(sink):
        thread = _stream_in_sdk_thread(process)
    assert thread.error is None
    assert sink.getvalue().splitlines() == lines


def test_without_a_named_stream_the_sdk_echoes_as_it_does(capsys: pytest.CaptureFixture) -> None:
    install_sdk_hooks()
    thread = _stream_in_sdk_thread(_compose_like("creating algo-1"))
    assert thread.error is None
    assert "creating algo-1" in capsys.readouterr().out


def test_a_failed_compose_still_fails_the_sdk_call() -> None:
    install_sdk_hooks()
    failing = subprocess.Popen(
        [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    sink = io.StringIO()
    with sdk_output_to(sink):
        thread = _stream_in_sdk_thread(failing)
    assert isinstance(thread.error, RuntimeError)
    assert "exited with code: 3" in str(thread.error)
    assert "boom" in sink.getvalue()

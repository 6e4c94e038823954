"""The DAP client against a real debugpy on the host (no Docker): the protocol round trip."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlmax.localmode.engine.ports import free_port
from tests.support.dap_client import DapClient, DapError

SCRIPT = textwrap.dedent(
    """\
    def accumulate(limit):
        total = 0
        for step in range(limit):
            total += step * 10
        return total


    result = accumulate(4)
    print("result", result)
    """
)
BREAK_LINE = 4  # total += step * 10


@pytest.fixture
def debuggee(tmp_path: Path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-Xfrozen_modules=off", "-m", "debugpy", "--listen",
         f"127.0.0.1:{port}", "--wait-for-client", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    yield script, port, process
    if process.poll() is None:
        process.kill()
    process.wait(10)


def test_breakpoint_locals_evaluate_and_continue(debuggee):
    script, port, process = debuggee
    with DapClient.connect("127.0.0.1", port, timeout=30) as dap:
        attach = dap.attach()
        dap.wait_event("initialized", timeout=10)
        [breakpoint_] = dap.set_breakpoints(script, [BREAK_LINE])
        assert breakpoint_["verified"] and breakpoint_["line"] == BREAK_LINE
        dap.configuration_done()
        dap.wait_response(attach, timeout=10)

        first = dap.wait_event("stopped", timeout=30)
        thread = first["body"]["threadId"]
        frame = dap.stack_trace(thread)[0]
        assert (frame["line"], Path(frame["source"]["path"])) == (BREAK_LINE, script)
        assert dap.locals(frame["id"])["step"] == "0"
        dap.continue_(thread)

        second = dap.wait_event("stopped", timeout=30)  # the next loop iteration
        frame = dap.stack_trace(second["body"]["threadId"])[0]
        assert dap.locals(frame["id"])["step"] == "1"
        assert dap.evaluate("total + 5", frame["id"]) == "5"

        dap.set_breakpoints(script, [])
        dap.continue_(thread)
        dap.wait_event("terminated", timeout=30)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "result 60" in output


def test_connect_gives_up_with_a_clear_error_when_nothing_listens():
    port = free_port()
    with pytest.raises(DapError, match=rf"could not open a DAP session with 127.0.0.1:{port}"):
        DapClient.connect("127.0.0.1", port, timeout=0.5)


def test_a_failed_request_raises_with_the_adapters_message(debuggee):
    _, port, _ = debuggee
    with DapClient.connect("127.0.0.1", port, timeout=30) as dap, pytest.raises(DapError):
        dap.request("stackTrace", {"threadId": 424242}, timeout=10)

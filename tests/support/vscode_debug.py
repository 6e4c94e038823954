"""Play VS Code's "Debug Test" on a test id, with a real DAP client and debugpy's own adapter.

What VS Code and its Python extensions do, step by step, and what this driver does instead:
- take the workspace's launch configuration whose `purpose` holds "debug-test" from
  `.vscode/launch.json`, substitute its variables (`${workspaceFolder}`,
  `${command:python.interpreterPath}` -> the interpreter running this suite);
- run pytest with `python.testing.pytestArgs` from `.vscode/settings.json` (which pass
  `--smlocal`) minus their positional folders and files (the extension drops them when it
  runs given tests), then
  the test id relative to `python.testing.cwd`. The extension feeds the ids to pytest through
  a pipe to its own pytest script; the effect is the same argument list for pytest;
- start `python -m debugpy.adapter` and speak DAP over its stdio: `initialize` with
  `supportsStartDebuggingRequest` and `supportsRunInTerminalRequest`, `launch`, the
  "uncaught" exception filter (VS Code's default), `configurationDone`;
- answer `runInTerminal` by starting the command (VS Code runs it in its terminal; here its
  output goes to a file the test reads);
- on a `debugpyAttach` event, open a child session with the event's configuration: connect
  to `connect.host:connect.port` (a listening debugpy, as the Python Debugger extension does
  for `connect`), `initialize`, `attach` with the configuration, breakpoints, filters,
  `configurationDone`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import vscode
from tests.support.dap_client import DapClient

REPO = vscode.REPO


def debug_test_configuration(workspace: Path = REPO) -> dict[str, Any]:
    """The launch configuration VS Code's Test Explorer uses for "Debug Test", substituted."""
    launch = vscode.load_jsonc(workspace / ".vscode" / "launch.json")
    [config] = [c for c in launch["configurations"] if "debug-test" in c.get("purpose", [])]
    return vscode.substitute_all(config, workspace)


def pytest_arguments(
    test_id: str, extra: list[str], workspace: Path = REPO
) -> tuple[list[str], str]:
    """(pytest's arguments, cwd) as the Python extension runs one test id."""
    settings = vscode.load_jsonc(workspace / ".vscode" / "settings.json")
    configured = vscode.substitute_all(settings.get("python.testing.pytestArgs", []), workspace)
    options = [a for a in configured if a.startswith("-")]  # positional paths dropped
    cwd = vscode.substitute(settings.get("python.testing.cwd", "${workspaceFolder}"), workspace)
    return [*options, f"--rootdir={cwd}", *extra, test_id], cwd


@dataclass
class Child:
    """One child session opened from a `debugpyAttach` event."""

    configuration: dict[str, Any]
    dap: DapClient
    attach_seq: int


@dataclass
class DebugTest:
    """A Debug Test run in progress: the parent session, its terminal, the children."""

    test_id: str
    extra: list[str]
    log: Path
    adapter: subprocess.Popen[bytes] | None = None
    parent: DapClient | None = None
    terminal: subprocess.Popen[bytes] | None = None
    children: list[Child] = field(default_factory=list)
    parent_stops: list[dict[str, Any]] = field(default_factory=list)  # exceptionInfo bodies
    # Another project's workspace (its .vscode files) and the interpreter VS Code selected.
    workspace: Path = REPO
    python: str = sys.executable

    def start(self, timeout: float = 60.0) -> None:
        config = debug_test_configuration(self.workspace)
        args, cwd = pytest_arguments(self.test_id, self.extra, self.workspace)
        self.adapter = subprocess.Popen(
            [sys.executable, "-m", "debugpy.adapter"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.parent = DapClient.over_process(self.adapter)
        self.parent.on_request["runInTerminal"] = self._run_in_terminal
        self.parent.on_request["startDebugging"] = lambda arguments: {}  # recorded, unused
        self.parent.initialize(
            timeout=timeout,
            supportsStartDebuggingRequest=True,
            supportsRunInTerminalRequest=True,
        )
        launch = {
            **config,
            "module": "pytest",
            "args": args,
            "cwd": cwd,
            "python": [self.python],
            "env": {**config.get("env", {})},
        }
        seq = self.parent.send("launch", launch)
        self.parent.wait_event("initialized", timeout=timeout)
        self.parent.set_exception_breakpoints(["uncaught"])
        self.parent.configuration_done()
        self.parent.wait_response(seq, timeout=timeout)

    def _run_in_terminal(self, arguments: dict[str, Any]) -> dict[str, Any]:
        env = {**os.environ}
        for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"):
            env.pop(name, None)  # this suite's own pytest settings are not the user's
        for name, value in (arguments.get("env") or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        with self.log.open("ab") as out:
            self.terminal = subprocess.Popen(
                arguments["args"],
                cwd=arguments.get("cwd") or None,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return {"processId": self.terminal.pid}

    def next_child_request(self, timeout: float) -> dict[str, Any] | None:
        """The next `debugpyAttach` configuration, or None once the test session ended.

        pytest ends a failed run with `SystemExit(1)`, which the "uncaught" filter stops on
        in the test's own session, as VS Code shows it; press Continue as a user would.
        """
        assert self.parent is not None
        names = ("debugpyAttach", "terminated", "stopped")
        while True:
            event = self.parent.wait_event(names, timeout=timeout)
            if event["event"] != "stopped":
                return event["body"] if event["event"] == "debugpyAttach" else None
            thread = event["body"]["threadId"]
            info = self.parent.request("exceptionInfo", {"threadId": thread})
            self.parent_stops.append(info)
            self.parent.continue_(thread)

    def open_child(
        self,
        configuration: dict[str, Any],
        breakpoints: dict[Path, list[int]] | None = None,
        exception_filters: tuple[str, ...] = ("uncaught",),
        timeout: float = 60.0,
    ) -> Child:
        """Start the child session as the Python Debugger extension does for `connect`."""
        connect = configuration["connect"]
        dap = DapClient.connect(connect["host"], int(connect["port"]), timeout=timeout)
        attach_seq = dap.send("attach", configuration)
        dap.wait_event("initialized", timeout=timeout)
        for path, lines in (breakpoints or {}).items():
            for placed in dap.set_breakpoints(path, lines):
                assert placed.get("verified"), placed
        dap.set_exception_breakpoints(list(exception_filters))
        dap.configuration_done()
        dap.wait_response(attach_seq, timeout=timeout)
        child = Child(configuration, dap, attach_seq)
        self.children.append(child)
        return child

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_terminal(self, timeout: float) -> int:
        assert self.terminal is not None, "the adapter never asked to run pytest"
        return self.terminal.wait(timeout)

    def close(self) -> None:
        for child in self.children:
            child.dap.close()
        if self.parent is not None:
            self.parent.close()
        for process in (self.terminal, self.adapter):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)

    def __enter__(self) -> DebugTest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

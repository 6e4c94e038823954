"""Attach to an inspect run the way VS Code's "Attach to Local Mode container" does.

The connection, path mappings and options come from the workspace's own `.vscode/launch.json`
(variables substituted), so what is tested is that configuration, not a copy of it. Runs in
the test process or, as `python -m tests.support.attach`, inside the dev container (where
VS Code would run), printing its findings as one JSON line.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.support import jsonc
from tests.support.dap_client import DapClient
from tests.support.vscode import substitute_all

ATTACH_CONFIG = "Attach to Local Mode container"


@dataclass
class AttachResult:
    host: str
    port: int
    stopped_file: str | None = None
    stopped_line: int | None = None
    local_names: list[str] = field(default_factory=list)
    breakpoints_verified: int = 0


def attach_config(workspace: Path) -> dict:
    """The attach configuration of `workspace`'s launch.json, variables substituted."""
    for config in jsonc.load(workspace / ".vscode" / "launch.json")["configurations"]:
        if config["name"] == ATTACH_CONFIG:
            return substitute_all(config, workspace)
    raise KeyError(f"{workspace}/.vscode/launch.json has no configuration {ATTACH_CONFIG!r}")


def main_entry_lines(jobs_dir: Path) -> dict[Path, int]:
    """For each job script, the line of the first statement of its `main` function."""
    lines: dict[Path, int] = {}
    for script in sorted(jobs_dir.glob("*.py")):
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == "main":
                body = node.body
                # A docstring is not a line the debugger stops on.
                if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]
                lines[script] = body[0].lineno
    return lines


def attach(
    workspace: Path, *, stop_in_main: bool, timeout: float = 120.0, port: int | None = None
) -> AttachResult:
    """Attach; with `stop_in_main`, break on every job's `main`, wait for a stop, continue.

    Either way the session ends with `disconnect`, which lets the job run to its end. `port`
    stands in for the configuration's port when the run chose a free one (`--inspect-port 0`),
    as a user would edit it; everything else comes from launch.json.
    """
    config = attach_config(workspace)
    host = config["connect"]["host"]
    port = int(config["connect"]["port"]) if port is None else port
    result = AttachResult(host, port)
    # docker-proxy may accept and drop the first connections: DapClient.connect retries.
    with DapClient.connect(host, port, timeout=timeout) as dap:
        attach_seq = dap.attach(
            path_mappings=config["pathMappings"], justMyCode=config.get("justMyCode", True)
        )
        dap.wait_event("initialized", timeout=timeout)
        if stop_in_main:
            jobs_dir = Path(config["pathMappings"][0]["localRoot"])
            for script, line in main_entry_lines(jobs_dir).items():
                verified = dap.set_breakpoints(script, [line])
                result.breakpoints_verified += sum(1 for b in verified if b.get("verified"))
        dap.configuration_done()
        dap.wait_response(attach_seq, timeout=timeout)
        if stop_in_main:
            stopped = dap.wait_event("stopped", timeout=timeout)
            frame = dap.stack_trace(stopped["body"]["threadId"])[0]
            result.stopped_file = frame["source"]["path"]
            result.stopped_line = frame["line"]
            result.local_names = sorted(dap.locals(frame["id"]))
            dap.continue_(stopped["body"]["threadId"])
        dap.disconnect()
    return result


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path.cwd())
    parser.add_argument("--stop-in-main", action="store_true")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--port", type=int, default=None, help="instead of launch.json's port")
    args = parser.parse_args(argv)
    result = attach(
        args.workspace.resolve(),
        stop_in_main=args.stop_in_main,
        timeout=args.timeout,
        port=args.port,
    )
    print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())

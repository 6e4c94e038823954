"""How a job runs under debugpy: the command prefix and the loopback-only port mapping.

The full inspect mode (attach from VS Code, path mappings) builds on this; the runners only
need the command and the port.
"""

from __future__ import annotations

from dataclasses import dataclass

DEBUGPY_PORT = 5678


@dataclass(frozen=True)
class DebugOptions:
    """Run the job's script under debugpy, listening on `host_port` of 127.0.0.1 only."""

    host_port: int
    container_port: int = DEBUGPY_PORT
    wait_for_client: bool = True

    def python_command(self) -> list[str]:
        """The interpreter command that replaces plain `python3`."""
        command = ["python3", "-m", "debugpy", "--listen", f"0.0.0.0:{self.container_port}"]
        if self.wait_for_client:
            command.append("--wait-for-client")
        return command

    def port_mapping(self) -> str:
        """Compose `ports` entry; never on all interfaces (the debugger runs any code)."""
        return f"127.0.0.1:{self.host_port}:{self.container_port}"

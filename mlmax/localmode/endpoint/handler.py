"""What an endpoint runs: an inference script (the framework serving contract) and mlmax's
contract server next to it, staged as the one code folder the SDK mounts.

The SDK mounts a `file://` submit directory at /opt/ml/code and the image's `serve` runs
`$SAGEMAKER_PROGRAM` from it. mlmax stages a copy of the handler's source folder with the
contract server (`handler_server.py`) added, and names the server as the program and the
script in MLMAX_HANDLER: any project's handler is served by the same image, and editing the
handler or the server needs no image build. The container sees the handler at the same path
under /opt/ml/code as under its source folder, so a debugger maps one onto the other.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlmax.localmode.endpoint import handler_server
from mlmax.project import SAMPLE_ENDPOINT, EndpointDefinition

SERVER_FILE = Path(handler_server.__file__)
SERVER_PROGRAM = "mlmax_handler_server.py"  # its name in the staged code folder
# The census sample's handler, declared in its jobs.toml as any project declares its
# endpoint: one user of the contract among others.
CENSUS_HANDLER = SAMPLE_ENDPOINT
# Never part of what is served: caches, virtual environments, version control.
_NOT_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".venv", ".mypy_cache")


def stage_code(handler: EndpointDefinition, target: Path) -> Path:
    """A copy of the handler's source folder at `target`, with the contract server added."""
    shutil.copytree(handler.source_dir, target, ignore=_NOT_CODE)
    shutil.copy2(SERVER_FILE, target / SERVER_PROGRAM)
    return target


def serving_environment(handler: EndpointDefinition) -> dict[str, str]:
    """What the image's `serve` and the contract server read to serve `handler`."""
    return {"SAGEMAKER_PROGRAM": SERVER_PROGRAM, handler_server.HANDLER_ENV: handler.script}

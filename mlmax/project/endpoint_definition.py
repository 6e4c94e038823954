"""What an endpoint is: an inference script written to the framework serving contract
(`model_fn`, `input_fn`, `predict_fn`, `output_fn`) in the folder shipped with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EndpointDefinition:
    """A real-time endpoint's handler: `script` (relative to `source_dir`) and, where the
    project says so, the model directory `mlmax serve NAME` serves by default."""

    name: str
    script: str
    source_dir: Path
    model_dir: Path | None = None
    project: str = "mlmax"

    @property
    def script_path(self) -> Path:
        return self.source_dir / self.script

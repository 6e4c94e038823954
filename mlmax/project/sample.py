"""Where the census sample project lives: found beside mlmax, never imported here.

The sample (`mlmax_census`: its jobs, data generator, pipeline and report) is a project like
any user's: it declares its jobs in its own `jobs.toml` and its pipeline in its own modules.
mlmax reaches it the way it reaches any project's code: its declarations by their place
(beside mlmax; no code of it runs), its modules by name at run time through `load_sample`
when a sample command asks for them. An import-linter contract keeps every static import of
it out of mlmax.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from mlmax.common import EnvironmentNotReadyError

SAMPLE_PACKAGE = "mlmax_census"


# The sample ships beside mlmax (one wheel, one checkout): its folder is found by place,
# which runs none of its code and cannot fail when this module is imported.
SAMPLE_ROOT = Path(__file__).resolve().parents[2] / SAMPLE_PACKAGE
# The folder the sample's jobs ship from: the container's code root (/opt/ml/code when served).
JOBS_DIR = SAMPLE_ROOT / "jobs"
# The sample's job declarations, read as any project's pyproject.toml is.
SAMPLE_DECLARATIONS = SAMPLE_ROOT / "jobs.toml"


def load_sample(module: str) -> ModuleType:
    """The sample's module `module` (e.g. "pipeline"), imported by name on first use."""
    try:
        return importlib.import_module(f"{SAMPLE_PACKAGE}.{module}")
    except ModuleNotFoundError as error:
        if error.name not in (SAMPLE_PACKAGE, f"{SAMPLE_PACKAGE}.{module}"):
            raise
        raise EnvironmentNotReadyError(
            f"the census sample ({SAMPLE_PACKAGE}) is not installed beside mlmax; reinstall "
            "mlmax (scripts/setup.sh in the workspace, or pip install --force-reinstall mlmax)"
        ) from None

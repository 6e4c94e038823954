"""Where the census sample project lives: found by its package's name, never imported here.

The sample (`mlmax_census`: its jobs, data generator, pipeline and report) is a project like
any user's: it declares its jobs in its own `jobs.toml` and its pipeline in its own modules.
mlmax reaches it the way it reaches any project's code, by name at run time: its folder
through the import system's finder (no code of it runs), its modules through `load_sample`
when a sample command asks for them. An import-linter contract keeps every static import of
it out of mlmax.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

SAMPLE_PACKAGE = "mlmax_census"


def _sample_root() -> Path:
    # A top-level name: finding its spec runs none of its code.
    spec = importlib.util.find_spec(SAMPLE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the {SAMPLE_PACKAGE} package is not installed beside mlmax; reinstall mlmax"
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve()


SAMPLE_ROOT = _sample_root()
# The folder the sample's jobs ship from: the container's code root (/opt/ml/code when served).
JOBS_DIR = SAMPLE_ROOT / "jobs"
# The sample's job declarations, read as any project's pyproject.toml is.
SAMPLE_DECLARATIONS = SAMPLE_ROOT / "jobs.toml"


def load_sample(module: str) -> ModuleType:
    """The sample's module `module` (e.g. "pipeline"), imported by name on first use."""
    return importlib.import_module(f"{SAMPLE_PACKAGE}.{module}")

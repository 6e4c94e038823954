"""mlmax's optional extras, and the one sentence that names the extra to install.

`pip install mlmax` brings the tool: the SDK's Local Mode, Docker, the embedded S3 server,
debugpy and the pytest plugin. The census sample's libraries and the SDK's workflow
distribution are extras (pyproject.toml). A command, runner or function that needs one calls
`require_extra` where it starts, so a missing library is one sentence naming the extra
(a `UsageError`: exit code 2), never an ImportError's traceback halfway through a run.
"""

from __future__ import annotations

import importlib.util

from .errors import UsageError

# Each extra's import names, one a distribution of the extra's in pyproject.toml
# (tests/common/test_extras.py checks they agree).
EXTRAS: dict[str, tuple[str, ...]] = {
    "census": ("pandas", "numpy", "sklearn", "joblib", "matplotlib", "waitress"),
    "pipelines": ("sagemaker.mlops",),
}
# What the census sample imports on the host, by use: a use is refused only for what it
# imports (the SDK itself brings some of the stack). waitress serves in the container only.
CENSUS_DATA = ("pandas", "numpy")
CENSUS_REPORT = (*CENSUS_DATA, "matplotlib")
CENSUS_JOBS = (*CENSUS_DATA, "sklearn", "joblib")


class MissingExtraError(UsageError):
    """Something mlmax was asked to do needs an extra that is not installed."""


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a broken entry
        return False


def missing_from(extra: str, modules: tuple[str, ...] = ()) -> list[str]:
    """Which of `modules` (default: all of `extra`'s) this Python cannot import."""
    return [name for name in dict.fromkeys(modules or EXTRAS[extra]) if not _importable(name)]


def require_extra(extra: str, needed_by: str, modules: tuple[str, ...] = ()) -> None:
    """Raise MissingExtraError naming the pip command if any of `modules` (default: all of
    `extra`'s) is missing; `needed_by` says what needs it (e.g. "`mlmax pipeline`")."""
    unknown = set(modules) - set(EXTRAS[extra])
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not in mlmax's {extra} extra")
    missing = missing_from(extra, modules)
    if missing:
        raise MissingExtraError(
            f"{needed_by} needs {', '.join(missing)} (mlmax's {extra} extra), which this "
            f"Python lacks; install it with: pip install 'mlmax[{extra}]'"
        )

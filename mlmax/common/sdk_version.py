"""Which SageMaker Python SDK is installed, read from its metadata without importing it.

mlmax drives SDK v3 (`sagemaker.core`, `sagemaker.train`, `sagemaker.serve`). Most existing
SageMaker projects are SDK v2 code, and an environment set up for them has `sagemaker` 2.x,
whose modules mlmax cannot use; importing them to find out would fail or run v2's import-time
work, so the installed distribution's version is what tells.
"""

from __future__ import annotations

from importlib import metadata

SDK_DISTRIBUTION = "sagemaker"
# SDK v3's core distribution: what mlmax installs (without the `sagemaker` meta-package).
SDK_V3_CORE = "sagemaker-core"
SDK_V3_REQUIREMENT = "sagemaker>=3.27,<4"
SDK_V2_PAGE = "docs/from-sdk-v2.md"


def installed_sdk_version() -> str | None:
    """The installed `sagemaker` distribution's version, or None if there is none."""
    try:
        return metadata.version(SDK_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def installed_core_version() -> str | None:
    """The installed `sagemaker-core` distribution's version (SDK v3), or None."""
    try:
        return metadata.version(SDK_V3_CORE)
    except metadata.PackageNotFoundError:
        return None


def sdk_v2_sentence() -> str | None:
    """One sentence naming the upgrade and the page, when the installed SDK is v2 (or older)."""
    version = installed_sdk_version()
    if version is None:
        return None
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) >= 3:
        return None
    return (
        f"SageMaker Python SDK {version} (SDK v2) is installed, but mlmax drives SDK v3; "
        f"upgrade with pip install '{SDK_V3_REQUIREMENT}' and see {SDK_V2_PAGE} for what "
        "to write instead of SKLearnProcessor, the SKLearn estimator and LocalSession"
    )

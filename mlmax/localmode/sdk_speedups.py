"""Remember which SageMaker SDK configs passed schema validation.

The SDK validates the session's config dict against its full JSON schema on EVERY config
lookup, and jsonschema re-checks the schema itself each time: about 13 validations per
Local Mode job, 0.1-0.4 s each on 2 cores, most of a job that does nothing. mlmax always
passes a config (the telemetry opt-out), so it pays this on every run. The same validation
still runs once per distinct config; only its repeats are skipped. tests/localmode/
test_sdk_speedups.py pins the SDK functions wrapped here.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

_MARK = "_mlmax_cached"
_lock = threading.Lock()
_valid: set[str] = set()


def _cached(validate: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(validate, _MARK, False):
        return validate

    @functools.wraps(validate)
    def cached(sagemaker_config: dict | None = None) -> None:
        try:
            key = json.dumps(sagemaker_config, sort_keys=True)
        except (TypeError, ValueError):  # not JSON: validate every time, as the SDK does
            validate(sagemaker_config)
            return
        if key in _valid:
            return
        validate(sagemaker_config)  # raises on an invalid config: nothing is remembered
        with _lock:
            _valid.add(key)

    setattr(cached, _MARK, True)
    return cached


def cache_config_validation() -> None:
    """Wrap the SDK's config validation functions (idempotent)."""
    from sagemaker.core.config import config as config_module
    from sagemaker.core.config.config_manager import SageMakerConfig
    from sagemaker.core.helper import session_helper
    from sagemaker.core.local import local_session

    method = SageMakerConfig.__dict__["validate_sagemaker_config"]
    SageMakerConfig.validate_sagemaker_config = staticmethod(_cached(method.__func__))
    for module in (config_module, session_helper, local_session):
        module.validate_sagemaker_config = _cached(module.validate_sagemaker_config)

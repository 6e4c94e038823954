"""Remember which SageMaker SDK configs passed schema validation.

The SDK validates the session's config dict against its full JSON schema on EVERY config
lookup, and jsonschema re-checks the schema itself each time: about 13 validations per
Local Mode job, 0.1-0.4 s each on 2 cores, most of a job that does nothing. mlmax always
passes a config (the telemetry opt-out), so it pays this on every run. The same validation
still runs once per distinct config; only its repeats are skipped. The SDK functions
wrapped here are reached (and pinned) through `mlmax.sdk_internals`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from mlmax import sdk_internals

_MARK = "_mlmax_cached"
_lock = threading.Lock()
_valid: set[str] = set()


def _cached(validate: Callable[..., Any]) -> Callable[..., Any]:
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

    return cached


def cache_config_validation() -> None:
    """Wrap the SDK's config validation functions (idempotent)."""
    for hook in sdk_internals.CONFIG_VALIDATION:
        sdk_internals.wrap(hook, _cached, mark=_MARK)

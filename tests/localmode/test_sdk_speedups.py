"""Pins the SDK config validation mlmax caches; fails loudly if an SDK upgrade moves it."""

from __future__ import annotations

import jsonschema
import pytest

from mlmax.localmode.sdk_speedups import cache_config_validation
from mlmax.localmode.session import TELEMETRY_OPT_OUT


def test_cached_validation_still_rejects_invalid_configs():
    cache_config_validation()
    cache_config_validation()  # idempotent
    from sagemaker.core.config.config_manager import SageMakerConfig
    from sagemaker.core.local import local_session

    SageMakerConfig.validate_sagemaker_config(TELEMETRY_OPT_OUT)
    local_session.validate_sagemaker_config(TELEMETRY_OPT_OUT)
    bad = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"Nope": 1}}}}
    for _ in range(2):  # a failure is never remembered as valid
        with pytest.raises(jsonschema.ValidationError):
            SageMakerConfig.validate_sagemaker_config(bad)


def test_sdk_still_validates_through_the_wrapped_names():
    import inspect

    from sagemaker.core import common_utils

    source = inspect.getsource(common_utils.get_sagemaker_config_value)
    assert "SageMakerConfig().validate_sagemaker_config(" in source

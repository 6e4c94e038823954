"""The SDK speed-ups: config validation cached (pinned: fails loudly if an SDK upgrade moves
it), the SDK's pydantic models built on first use, validating exactly as before, and the
objects of its import kept out of garbage collections."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import jsonschema
import pydantic
import pytest

from mlmax.localmode.sdk.session import TELEMETRY_OPT_OUT
from mlmax.localmode.sdk.speedups import (
    cache_config_validation,
    deferred_model_builds,
    untraced,
)


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


def test_models_defined_in_the_block_build_on_first_use_and_validate_as_before():
    with deferred_model_builds():

        class Deferred(pydantic.BaseModel):
            count: int

    class Immediate(pydantic.BaseModel):
        count: int

    assert "defer_build" not in pydantic.BaseModel.model_config  # put back as it was
    assert Immediate.__pydantic_complete__
    assert not Deferred.__pydantic_complete__
    assert Deferred(count="3").count == 3  # built now, coercing as pydantic does
    assert Deferred.__pydantic_complete__
    with pytest.raises(pydantic.ValidationError):
        Deferred(count="three")


def test_pydantics_setting_is_put_back_when_the_import_fails():
    before = dict(pydantic.BaseModel.model_config)
    with pytest.raises(ImportError), deferred_model_builds():
        raise ImportError("an SDK module that cannot be imported")
    assert pydantic.BaseModel.model_config == before


def test_overlapping_imports_leave_pydantics_setting_as_they_found_it():
    # Two blocks that overlapped would each save what they found: the second would save the
    # first's setting and put it back after the first had taken it off.
    import threading

    before = dict(pydantic.BaseModel.model_config)
    first_inside, second_trying, first_done = (threading.Event() for _ in range(3))
    seen: list[object] = []

    def first() -> None:
        with deferred_model_builds():
            first_inside.set()
            second_trying.wait(30)
        first_done.set()

    def second() -> None:
        second_trying.set()
        with deferred_model_builds():
            first_done.wait(30)
            seen.append(pydantic.BaseModel.model_config.get("defer_build"))

    one = threading.Thread(target=first)
    one.start()
    assert first_inside.wait(30)
    two = threading.Thread(target=second)
    two.start()
    one.join(30)
    two.join(30)
    assert seen == [True]
    assert pydantic.BaseModel.model_config == before


# In a fresh interpreter: which SDK modules are already imported depends on the tests before.
SDK_PRELOADED = """
from mlmax.localmode.sdk.session import preload_sdk
preload_sdk()
import pydantic
from sagemaker.core.shapes import ProcessingS3Input
assert "defer_build" not in pydantic.BaseModel.model_config
assert not ProcessingS3Input.__pydantic_complete__, "the SDK's models were built at import"
given = ProcessingS3Input(s3_uri="s3://bucket/key", s3_data_type="S3Prefix")
assert given.s3_uri == "s3://bucket/key"
try:
    ProcessingS3Input(s3_uri=["not", "a", "string"], s3_data_type="S3Prefix")
except pydantic.ValidationError:
    print("refused")
"""


def test_the_sdk_preloaded_by_mlmax_builds_its_models_on_first_use():
    done = subprocess.run(
        [sys.executable, "-c", SDK_PRELOADED], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"


SDK_FROZEN = """
import gc
from mlmax.localmode.sdk.speedups import import_sdk
import_sdk("sagemaker.core.local")
from sagemaker.core.local.local_session import LocalSession
class DefinedAfter:
    pass
# gc.get_objects() lists the generations collections walk, not the permanent one.
walked = {id(o) for o in gc.get_objects()}
print(id(LocalSession) in walked, id(DefinedAfter) in walked, gc.get_freeze_count() > 0)
"""


def test_the_sdks_import_is_left_out_of_garbage_collections():
    done = subprocess.run(
        [sys.executable, "-c", SDK_FROZEN], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # The SDK's classes are frozen; what the process creates later is collected as usual.
    assert done.stdout.split() == ["False", "True", "True"]


UNDER_DEBUGPY = """
import sys, threading
import debugpy
from mlmax.localmode.sdk.speedups import untraced
from mlmax.localmode.sdk.thread import SdkThread
debugpy.listen(("127.0.0.1", 0))  # from here on, debugpy traces every thread
seen = {"before": sys.gettrace() is not None}
with untraced():
    seen["in the block"] = sys.gettrace() is not None
seen["after"] = sys.gettrace() is not None
def sdk_call():
    seen["in the SDK thread"] = sys.gettrace() is not None
thread = SdkThread("sdk", sdk_call)
thread.start()
thread.join()
print(seen)
"""


def test_mlmax_drives_the_sdk_untraced_under_debugpy_and_traced_again_after():
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run(
        [sys.executable, "-c", UNDER_DEBUGPY], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    seen = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "before": True,
        "in the block": False,
        "after": True,
        "in the SDK thread": False,
    }


def test_untraced_leaves_another_tracer_alone():
    def tracer(frame: object, event: str, arg: object) -> None:
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with untraced():
            inside = sys.gettrace()
    finally:
        sys.settrace(previous)
    assert inside is tracer

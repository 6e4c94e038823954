"""Every SageMaker SDK internal mlmax hooks, checked against the installed SDK (no mocks).

One test per hook of `mlmax.localmode.sdk.internals.HOOKS`: an SDK upgrade that moves, renames or
reshapes one fails here with the hook's path, the SDK version and what mlmax needs it for.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from mlmax.localmode.sdk import internals as sdk_internals
from mlmax.localmode.sdk.internals import HOOKS, Hook, SdkHookError


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Importing sagemaker.mlops builds a boto client at import time: it needs a region, and
    # credentials that are not looked up on an instance metadata endpoint.
    missing = str(tmp_path / "no-aws-config")
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("hook", HOOKS, ids=[hook.path for hook in HOOKS])
def test_the_installed_sdk_still_has_the_hook_with_the_body_and_attributes_mlmax_relies_on(
    hook: Hook,
):
    try:
        hook.check()
        hook.check_source()
    except SdkHookError as error:
        pytest.fail(str(error), pytrace=False)


def test_the_supported_sdk_is_what_pyproject_asks_for():
    project = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["pipelines"]]
    asked = {r.name: r.specifier for r in map(Requirement, lines) if r.name.startswith("sagemaker")}
    supported = {name: SpecifierSet(v) for name, v in sdk_internals.SDK_DISTRIBUTIONS.items()}
    assert asked == supported


def test_every_function_hooked_has_its_body_recorded_and_nothing_else_is():
    functions = {hook.path for hook in HOOKS if hook.parameters is not None}
    assert set(sdk_internals.BODY_DIGESTS) == functions


def test_every_hook_is_listed_once():
    paths = [hook.path for hook in HOOKS]
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        (Hook("sagemaker.core.local", "NoSuchClass.method", "probe", ("self",)), "is gone"),
        (Hook("sagemaker.no_such_module", "", "probe"), "cannot be imported"),
        (
            Hook("sagemaker.core.local.image", "_aws_credentials", "probe", ("boto_session",)),
            "takes (session), not (boto_session)",
        ),
        (
            Hook("sagemaker.train.model_trainer", "ModelTrainer._gone", "probe", None, True),
            "no longer a private attribute",
        ),
    ],
)
def test_a_changed_sdk_fails_loudly_naming_hook_and_version(hook: Hook, problem: str):
    with pytest.raises(SdkHookError) as caught:
        hook.check()
    message = str(caught.value)
    assert hook.path in message and problem in message
    assert f"SageMaker SDK ({sdk_internals.sdk_version()})" in message
    assert "probe" in message  # what mlmax needs the hook for


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        # The SDK's own function, under a path whose recorded body is another one.
        (
            Hook("sagemaker.core.local.image", "_stream_output", "probe", ("process",)),
            "has a body mlmax has not checked",
        ),
        (
            Hook(
                "sagemaker.core.local.image",
                "_HostingContainer.run",
                "probe",
                ("self",),
                reads=("no_such_attribute",),
            ),
            "no longer sets 'no_such_attribute'",
        ),
    ],
)
def test_a_changed_body_or_attribute_fails_naming_the_hook(
    hook: Hook, problem: str, monkeypatch: pytest.MonkeyPatch
):
    recorded = dict(sdk_internals.BODY_DIGESTS)
    if hook.attribute == "_stream_output":
        recorded[hook.path] = "0" * 16  # what an older SDK's body would have recorded
    monkeypatch.setattr(sdk_internals, "BODY_DIGESTS", recorded)
    with pytest.raises(SdkHookError) as caught:
        hook.check_source()
    message = str(caught.value)
    assert hook.path in message and problem in message and "probe" in message


def test_wrap_is_idempotent_and_stacks_with_other_marks():
    # A module-level SDK function, wrapped twice under one mark and once under another.
    from sagemaker.core.local import image

    calls: list[str] = []

    def counting(label: str):
        def make(original):
            def wrapper(session):
                calls.append(label)
                return original(session)

            return wrapper

        return make

    hook = sdk_internals.AWS_CREDENTIALS[0]
    saved = image._aws_credentials
    try:
        sdk_internals.wrap(hook, counting("a"), mark="_mlmax_test_a")
        sdk_internals.wrap(hook, counting("a"), mark="_mlmax_test_a")
        sdk_internals.wrap(hook, counting("b"), mark="_mlmax_test_b")
        image._aws_credentials(None)
    finally:
        image._aws_credentials = saved
    assert calls == ["b", "a"]


def test_patched_puts_the_original_back():
    from sagemaker.train import model_trainer

    original = model_trainer._get_unique_name
    with sdk_internals.patched(sdk_internals.UNIQUE_NAME, lambda _f: lambda base, **_: base):
        assert model_trainer._get_unique_name("x") == "x"
    assert model_trainer._get_unique_name is original

"""`mlmax doctor --cloud` checks: local only, one line each with what is missing."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from mlmax.cloud.checks import bucket_name_problem, check_bucket, check_role, cloud_checks

ROLE = "arn:aws:iam::123456789012:role/service-role/mlmax"


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Nothing configured: no credentials, no region, no config files."""
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_DEFAULT_REGION", "AWS_REGION", "MLMAX_SAGEMAKER_ROLE", "MLMAX_SAGEMAKER_BUCKET",
        "MLMAX_SAGEMAKER_IMAGE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path


def by_name(checks):
    return {c.name: c for c in checks}


def test_nothing_configured_says_what_is_missing(no_aws: Path):
    checks = by_name(cloud_checks(session_factory=botocore.session.Session))
    assert not checks["AWS credentials"].ok
    assert "aws configure" in checks["AWS credentials"].fix
    assert not checks["AWS region"].ok
    assert "AWS_DEFAULT_REGION" in checks["AWS region"].fix
    assert not checks["SageMaker execution role"].ok
    assert checks["S3 bucket"].ok  # the SDK's default bucket is fine
    assert not checks["Job image"].ok


def test_profile_in_files_is_found_without_calling_aws(no_aws: Path):
    (no_aws / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n"
    )
    (no_aws / "config").write_text("[default]\nregion = eu-west-1\n")
    checks = by_name(
        cloud_checks(
            role=ROLE,
            bucket="my-ml-bucket",
            image="example/mlmax-job:1",
            session_factory=botocore.session.Session,
        )
    )
    assert checks["AWS credentials"].ok
    assert checks["AWS credentials"].detail == "found (shared-credentials-file)"
    assert checks["AWS region"].detail == "eu-west-1"
    assert checks["SageMaker execution role"].detail == "service-role/mlmax in account 123456789012"
    assert all(c.ok for c in checks.values())


def test_environment_values_are_used(no_aws: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLMAX_SAGEMAKER_ROLE", "MyRole")
    monkeypatch.setenv("MLMAX_SAGEMAKER_BUCKET", "My_Bucket")
    checks = by_name(cloud_checks(region="us-west-2", session_factory=botocore.session.Session))
    assert checks["AWS region"].detail == "us-west-2"
    assert checks["SageMaker execution role"].detail == "'MyRole' is not a role ARN"
    assert not checks["S3 bucket"].ok


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("My-Bucket", "lowercase"),
        ("bucket-", "start and end"),
        ("my..bucket", "in a row"),
        ("192.168.1.1", "IP address"),
        ("xn--bucket", "reserved prefix"),
        ("bucket-s3alias", "reserved suffix"),
    ],
)
def test_bad_bucket_names(name: str, problem: str):
    assert problem in (bucket_name_problem(name) or "")
    assert not check_bucket(name).ok


@pytest.mark.parametrize("name", ["abc", "my.ml-bucket.2024", "a" * 63])
def test_good_bucket_names(name: str):
    assert bucket_name_problem(name) is None


def test_role_shapes():
    assert check_role(ROLE).ok
    assert check_role("arn:aws-cn:iam::123456789012:role/x").ok
    assert not check_role("arn:aws:iam::12345:role/x").ok
    assert not check_role("arn:aws:iam::123456789012:user/x").ok

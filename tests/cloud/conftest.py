"""Fixtures of the scale-out tests: an emulated AWS and captured API calls.

Nothing here reaches AWS: the emulated cloud is moto in-process, and the suite-wide network
guard (tests/support/network_guard.py) fails any test that tries to leave loopback.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlmax-sagemaker"
BUCKET = "mlmax-test-bucket"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlmax-job:test"


def offline_aws_environ(patch: pytest.MonkeyPatch, scratch: Path) -> None:
    """Dummy credentials, a region, no user config files, SDK telemetry off."""
    config = scratch / "sagemaker-config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
        "      TelemetryOptOut: true\n",
        encoding="utf-8",
    )
    missing = str(scratch / "no-aws-config")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(config),
    }.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "MLMAX_SAGEMAKER_IMAGE"):
        patch.delenv(name, raising=False)


@pytest.fixture
def offline_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    offline_aws_environ(monkeypatch, tmp_path)


@dataclass
class Recorder:
    """SageMaker API requests as sent (after the SDK built them), in order."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, json.loads(json.dumps(params, default=str))))

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


@dataclass
class EmulatedAws:
    boto_session: Any
    sagemaker: Recorder

    def keys(self, prefix: str = "") -> list[str]:
        s3 = self.boto_session.client("s3")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def put(self, uri: str, body: bytes) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.boto_session.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def model_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@contextlib.contextmanager
def emulated_aws_account(denied: tuple[str, ...] = ()) -> Iterator[EmulatedAws]:
    """moto in-process with the test bucket and role, every SageMaker request recorded; the
    role lacks the `denied` IAM actions."""
    import boto3
    import moto

    with moto.mock_aws():
        boto_session = boto3.Session(region_name=REGION)
        recorder = Recorder()
        # Registered before any client exists: botocore copies the hooks into each client.
        boto_session.events.register("provide-client-params.sagemaker.*", recorder)
        boto_session.client("s3").create_bucket(Bucket=BUCKET)
        # The execution role as the account holds it: trusted by SageMaker, and granted
        # whatever IAM's policy simulator is asked (moto has no simulator).
        boto_session.client("iam").create_role(
            RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
        )
        boto_session.events.register(
            "before-call.iam.SimulatePrincipalPolicy", simulated_policy_decisions(denied)
        )
        yield EmulatedAws(boto_session, recorder)


SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def simulated_policy_decisions(denied: tuple[str, ...]) -> Any:
    """A before-call hook answering iam:SimulatePrincipalPolicy: every asked action allowed,
    except the `denied` ones (IAM's answer for a role that lacks them)."""
    from botocore.awsrequest import AWSResponse

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        body = params.get("body") or {}
        actions = [v for k, v in sorted(body.items()) if k.startswith("ActionNames.member.")]
        results = [
            {"EvalActionName": a, "EvalDecision": "implicitDeny" if a in denied else "allowed"}
            for a in actions
        ]
        http = AWSResponse("https://iam.invalid/", 200, {}, None)
        return http, {"EvaluationResults": results, "IsTruncated": False}

    return answer


@pytest.fixture
def emulated_aws(offline_aws_env: None) -> Iterator[EmulatedAws]:
    with emulated_aws_account() as aws:
        yield aws

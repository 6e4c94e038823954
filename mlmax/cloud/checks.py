"""`mlmax doctor --cloud`: what can be checked for managed SageMaker without calling AWS.

Each check is local: botocore's credential chain (minus the providers that would ask an
instance or container metadata endpoint over the network), the configured region, the shape
of the execution role ARN, the S3 bucket naming rules, and whether a job image is named.
Whether the credentials are valid or the role may run jobs only AWS can say; the first
`--runner sagemaker` run will.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlmax.cloud.settings import (
    BUCKET_ENV,
    IMAGE_ENV,
    ROLE_ENV,
    EnvironmentSettings,
    parse_role_arn,
)

_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")
# Providers that resolve credentials by asking a metadata endpoint over the network.
_NETWORK_PROVIDERS = {"iam-role", "container-role"}


@dataclass(frozen=True)
class CloudCheck:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid general-purpose S3 bucket name, or None if it is."""
    if not 3 <= len(name) <= 63:
        return f"is {len(name)} characters long; bucket names have 3 to 63"
    if not _BUCKET_CHARS.match(name):
        return (
            "may use only lowercase letters, digits, dots and hyphens, "
            "and must start and end with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "has two separators in a row"
    try:
        ipaddress.IPv4Address(name)
        return "looks like an IP address"
    except ValueError:
        pass
    for prefix in _BUCKET_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"starts with the reserved prefix {prefix!r}"
    for suffix in _BUCKET_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"ends with the reserved suffix {suffix!r}"
    return None


def _offline_credentials(session: Any) -> Any:
    """botocore's credential chain without the metadata-endpoint providers."""
    resolver = session.get_component("credential_provider")
    for name in _NETWORK_PROVIDERS:
        with contextlib.suppress(KeyError, ValueError):
            resolver.remove(name)
    return resolver.load_credentials()


def check_credentials(session: Any) -> CloudCheck:
    fix = (
        "Run `aws configure` (or `aws sso login --profile NAME` and set AWS_PROFILE), or set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    )
    try:
        credentials = _offline_credentials(session)
    except Exception as error:  # a broken profile or config file: say which
        return CloudCheck("AWS credentials", False, f"cannot be read: {error}", fix)
    if credentials is None:
        return CloudCheck(
            "AWS credentials",
            False,
            "none found in the environment, ~/.aws files, SSO or credential_process "
            "(instance/container roles are not probed offline)",
            fix,
        )
    return CloudCheck("AWS credentials", True, f"found ({credentials.method})")


def check_region(session: Any) -> CloudCheck:
    region = session.get_config_variable("region")
    if not region:
        return CloudCheck(
            "AWS region",
            False,
            "not set",
            "Set AWS_DEFAULT_REGION, add `region = ...` to ~/.aws/config, or pass --region.",
        )
    return CloudCheck("AWS region", True, region)


def check_role(role: str | None) -> CloudCheck:
    fix = (
        f"Pass --role arn:aws:iam::<12-digit account>:role/<name> or set {ROLE_ENV}; the role "
        "needs the SageMaker execution policy and access to the bucket."
    )
    if not role:
        return CloudCheck("SageMaker execution role", False, "not set", fix)
    parts = parse_role_arn(role)
    if parts is None:
        return CloudCheck("SageMaker execution role", False, f"{role!r} is not a role ARN", fix)
    account, name = parts
    return CloudCheck("SageMaker execution role", True, f"{name} in account {account}")


def check_bucket(bucket: str | None) -> CloudCheck:
    if not bucket:
        return CloudCheck(
            "S3 bucket", True, "not set: the SDK uses its default sagemaker-<region>-<account>"
        )
    problem = bucket_name_problem(bucket)
    if problem:
        return CloudCheck(
            "S3 bucket",
            False,
            f"{bucket!r} {problem}",
            f"Pass --bucket with a valid name or set {BUCKET_ENV}.",
        )
    return CloudCheck("S3 bucket", True, bucket)


def check_image(image: str | None) -> CloudCheck:
    if not image:
        return CloudCheck(
            "Job image",
            False,
            "not set",
            f"Push the job image (`mlmax image build`) to your registry and pass --image URI "
            f"or set {IMAGE_ENV}.",
        )
    return CloudCheck("Job image", True, image)


def cloud_checks(
    *,
    role: str | None = None,
    bucket: str | None = None,
    image: str | None = None,
    region: str | None = None,
    session_factory: Callable[[], Any] | None = None,
) -> list[CloudCheck]:
    """Every check, in the order a person fixes them. Options win over the environment."""
    import botocore.session

    session = (session_factory or botocore.session.get_session)()
    if region:
        session.set_config_variable("region", region)
    environment = EnvironmentSettings.read()
    return [
        check_credentials(session),
        check_region(session),
        check_role(role or environment.role),
        check_bucket(bucket or environment.bucket),
        check_image(image or environment.image),
    ]

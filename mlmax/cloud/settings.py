"""The `MLMAX_SAGEMAKER_*` settings and the defaults shared by the runner and the export.

The variable names and the role ARN's shape are written here once: `mlmax doctor --cloud`,
the SageMaker runner and `mlmax pipeline export` all read them through this module, so the
check a person runs first accepts exactly what the runner accepts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

ROLE_ENV = "MLMAX_SAGEMAKER_ROLE"
BUCKET_ENV = "MLMAX_SAGEMAKER_BUCKET"
IMAGE_ENV = "MLMAX_SAGEMAKER_IMAGE"

# An IAM role ARN: any partition, a 12-digit account, a role path and name (IAM allows 512).
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/([\w+=,.@/-]{1,512})$")

DEFAULT_PROCESSING_INSTANCE = "ml.m5.large"  # 2 vCPU, 8 GiB
DEFAULT_TRAINING_INSTANCE = "ml.m5.xlarge"  # 4 vCPU, 16 GiB
DEFAULT_PREFIX = "mlmax"


@dataclass(frozen=True)
class EnvironmentSettings:
    """The values the environment gives; an empty variable counts as unset."""

    role: str | None = None
    bucket: str | None = None
    image: str | None = None

    @classmethod
    def read(cls) -> EnvironmentSettings:
        env = os.environ
        return cls(
            role=env.get(ROLE_ENV) or None,
            bucket=env.get(BUCKET_ENV) or None,
            image=env.get(IMAGE_ENV) or None,
        )


def parse_role_arn(role: str) -> tuple[str, str] | None:
    """(account, role name with its path) of a role ARN, or None if `role` is not one."""
    match = ROLE_ARN.match(role)
    return (match.group(1), match.group(2)) if match else None

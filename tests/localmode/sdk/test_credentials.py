"""The embedded S3 server's keys never reach a job container or a compose file; real S3
sessions keep the SDK's behaviour (the SDK function wrapped for that is pinned by
tests/localmode/sdk/test_internals.py)."""

from __future__ import annotations

import boto3
import pytest

from mlmax.localmode.s3.server import S3Server
from mlmax.localmode.sdk.credentials import keep_embedded_keys_out_of_containers
from mlmax.localmode.sdk.session import OfflineSession


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        yield server


def test_session_keys_stay_out_of_the_processing_compose_file(s3, tmp_path):
    from sagemaker.core.local.image import _SageMakerContainer

    with (
        OfflineSession(s3_endpoint_url=s3.endpoint_url, temp_parent=tmp_path) as session,
        session.pinned(),
    ):
        local = session.local_session(container_root=session.run_dir("r"))
        container = _SageMakerContainer("local", 1, "probe:1", sagemaker_session=local)
        container.container_root = str(session.root / "r")
        container._generate_compose_file("process", additional_env_vars={"JOB": "1"})
        compose_file = (session.root / "r" / "docker-compose.yaml").read_text()
    assert "JOB=1" in compose_file  # the file the SDK hands to compose, read back
    assert s3.keys.secret_key not in compose_file
    assert s3.keys.access_key not in compose_file
    assert "AWS_SECRET_ACCESS_KEY" not in compose_file


def test_other_keys_still_reach_the_container_as_the_sdk_passes_them():
    from sagemaker.core.local import image

    keep_embedded_keys_out_of_containers()
    real = boto3.Session(
        aws_access_key_id="AKIAREALUSER", aws_secret_access_key="real", region_name="eu-west-1"
    )
    assert image._aws_credentials(real) == [
        "AWS_ACCESS_KEY_ID=AKIAREALUSER",
        "AWS_SECRET_ACCESS_KEY=real",
    ]

"""The scale-out commands: `mlmax pipeline export`, `mlmax doctor --cloud`, bad arguments."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.cli import main
from mlmax.cloud.pipeline_export import (
    ExportOptions,
    OfflineIamCallError,
    RoleRefusedError,
    emulated_aws_session,
    export_pipeline,
)
from mlmax.cloud.runner import DEFAULT_PROCESSING_INSTANCE
from mlmax.project.catalog import JOBS
from mlmax_census.pipeline import census_pipeline
from tests.cloud.conftest import BUCKET, IMAGE, ROLE, emulated_aws_account

OPTIONS_FOR_ROLE = ExportOptions(role=ROLE, bucket=BUCKET, image_uri=IMAGE, dag=census_pipeline())


def test_export_writes_the_definition_offline(offline_aws_env: None, tmp_path: Path, capsys):
    out = tmp_path / "pipeline.json"
    code = main(
        ["pipeline", "export", "--output", str(out), "--role", ROLE, "--bucket", BUCKET,
         "--image", IMAGE, "--threshold", "0.8"]
    )  # fmt: skip
    assert code == 0
    definition = json.loads(out.read_text())
    threshold = next(p for p in definition["Parameters"] if p["Name"] == "MinRocAuc")
    assert threshold["DefaultValue"] == 0.8
    assert capsys.readouterr().out.strip() == str(out)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "the export needs --role, --bucket, --image"),
        (["--role", ROLE, "--bucket", BUCKET, "--image", IMAGE, "--start"], "--start needs"),
        (["--role", ROLE, "--bucket", "b", "--image", IMAGE], "the bucket 'b' is 1 characters"),
    ],
)
def test_export_bad_arguments(offline_aws_env: None, tmp_path: Path, capsys, extra, message):
    out = tmp_path / "pipeline.json"
    assert main(["pipeline", "export", "--output", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--runner", "sagemaker", "--instance-type", "trian=ml.c5.xlarge"],
         "argument --instance-type: bad instance type 'trian=ml.c5.xlarge'; write JOB=ml.TYPE"),
        (["--runner", "host", "--instance-type", "train=ml.c5.xlarge"],
         "error: --instance-type chooses managed instances, which the host runner does not use"),
    ],
)  # fmt: skip
def test_pipeline_instance_type_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, capsys, arguments: list[str], message: str
) -> None:
    run_dir = tmp_path / "run"
    assert main(["pipeline", *arguments, "--output", str(run_dir)]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()


def test_pipeline_instance_types_reach_the_sagemaker_runner(
    offline_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlmax.runners import make_runner

    for name, value in {"ROLE": ROLE, "BUCKET": BUCKET, "IMAGE": IMAGE}.items():
        monkeypatch.setenv(f"MLMAX_SAGEMAKER_{name}", value)
    runner = make_runner("sagemaker", instance_types={"train": "ml.c5.2xlarge"})
    assert runner.options.instance_type(JOBS["train"]) == "ml.c5.2xlarge"
    assert runner.options.instance_type(JOBS["preprocessing"]) == DEFAULT_PROCESSING_INSTANCE


def test_doctor_cloud(offline_aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("MLMAX_SAGEMAKER_ROLE", "not-an-arn")
    monkeypatch.setenv("MLMAX_SAGEMAKER_BUCKET", BUCKET)
    monkeypatch.setenv("MLMAX_SAGEMAKER_IMAGE", IMAGE)
    assert main(["doctor", "--cloud"]) == 1
    out = capsys.readouterr().out
    assert "✓ AWS credentials: found (env)" in out
    assert "✓ AWS region: us-east-1" in out
    assert "✗ SageMaker execution role: 'not-an-arn' is not a role ARN" in out
    # The meta-package where an environment has it, else the core distribution mlmax needs.
    assert re.search(r"✓ SageMaker SDK: sagemaker(-core)? \d", out), out
    assert "5 of 6 checks passed" in out


# -- faults: region, credentials, role validation --------------------------------------------


def _export_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mlmax", "pipeline", "export", "--output", str(out),
            "--role", ROLE, "--bucket", BUCKET, "--image", IMAGE, *extra]  # fmt: skip


def test_export_without_a_region_in_the_environment_uses_region(
    offline_aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A fresh process: the SDK needs the region while it is imported, which an earlier
    # test in this process may have done already.
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    out = tmp_path / "pipeline.json"
    done = subprocess.run(_export_command(out, "--region", "eu-west-1"), capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(out.read_text())["Steps"]


def test_the_offline_export_makes_no_iam_call_with_credentials_in_the_environment(
    offline_aws_env: None, tmp_path: Path, capsys
) -> None:
    # offline_aws_env holds (dummy) credentials and leaves SAGEMAKER_VALIDATE_ROLE unset, as
    # a user's environment does: the export must not validate the role through IAM.
    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ
    out = tmp_path / "pipeline.json"
    assert main(["pipeline", "export", "--output", str(out), "--role", ROLE, "--bucket", BUCKET,
                 "--image", IMAGE]) == 0  # fmt: skip
    assert json.loads(out.read_text())["Steps"]
    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ, "the export's scope must not leak"
    with (
        emulated_aws_session("us-east-1") as session,
        pytest.raises(OfflineIamCallError, match="GetRole refused"),
    ):
        session.client("iam").get_role(RoleName="mlmax-sagemaker")


def test_upsert_without_credentials_is_one_line(
    offline_aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    out = tmp_path / "pipeline.json"
    argv = ["pipeline", "export", "--output", str(out), "--role", ROLE, "--bucket", BUCKET,
            "--image", IMAGE, "--upsert"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert "no AWS credentials were found" in errors[0]
    assert "Traceback" not in "\n".join(err)


def test_upsert_with_a_role_lacking_a_permission_is_one_line_naming_both(
    offline_aws_env: None, tmp_path: Path
) -> None:
    with (
        emulated_aws_account(denied=("cloudwatch:PutMetricData",)) as aws,
        pytest.raises(RoleRefusedError) as failure,
    ):
        export_pipeline(OPTIONS_FOR_ROLE, tmp_path / "p.json", boto_session=aws.boto_session,
                        upsert=True)  # fmt: skip
    line = str(failure.value)
    assert "\n" not in line and failure.value.is_usage_error()
    assert line == (
        f"the execution role {ROLE} failed validation: it lacks the permission(s) "
        "cloudwatch:PutMetricData; grant that, or pass another --role"
    )

"""The scale-out commands: `mlmax pipeline export`, `mlmax doctor --cloud`, bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BUCKET, IMAGE, ROLE

from mlmax.cli import main


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
    ],
)
def test_export_bad_arguments(offline_aws_env: None, tmp_path: Path, capsys, extra, message):
    out = tmp_path / "pipeline.json"
    assert main(["pipeline", "export", "--output", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_doctor_cloud(offline_aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("MLMAX_SAGEMAKER_ROLE", "not-an-arn")
    monkeypatch.setenv("MLMAX_SAGEMAKER_BUCKET", BUCKET)
    monkeypatch.setenv("MLMAX_SAGEMAKER_IMAGE", IMAGE)
    assert main(["doctor", "--cloud"]) == 1
    out = capsys.readouterr().out
    assert "✓ AWS credentials: found (env)" in out
    assert "✓ AWS region: us-east-1" in out
    assert "✗ SageMaker execution role: 'not-an-arn' is not a role ARN" in out
    assert "4 of 5 checks passed" in out

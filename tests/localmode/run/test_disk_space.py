"""Small disks: a run that cannot fit is refused before it starts, and a disk that fills
while a job runs (the job's writes, the S3 server's objects) is named in one sentence, with
its free space, never as server tracebacks or a failure without a cause. Each disk is a real
tmpfs of a few MB, mounted by the test (root only)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mlmax.localmode.s3.server import S3Server

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root"),
]

FILLER = """\
import argparse, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--out-dir", default="/opt/ml/processing/output/out")
out = pathlib.Path(parser.parse_known_args()[0].out_dir)
out.mkdir(parents=True, exist_ok=True)
with open(out / "big.bin", "wb") as big:
    for _ in range(40):
        big.write(bytes(1024 * 1024))
"""

PROJECT = """\
[project]
name = "filler"

[tool.mlmax.jobs.filler]
script = "jobs/filler.py"
kind = "processing"
inputs = ["data"]
outputs = ["out"]
"""


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int) -> Iterator[Path]:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)],
                   check=True)  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _project(root: Path) -> Path:
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "filler.py").write_text(FILLER)
    (root / "pyproject.toml").write_text(PROJECT)
    return root


def _mlmax_run(project: Path, data: Path, temp: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mlmax", "run", "filler", "--input", f"data={data}",
               "--output", f"out={project / 'out'}"]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(temp)}
    env.pop("MLMAX_WORK_DIR", None)
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr.split("last lines of its log")[0], stderr
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.smlocal
def test_a_run_that_cannot_fit_in_tmpdir_is_refused_before_it_starts(sm_image, tmp_path):
    project = _project(tmp_path / "project")
    data = tmp_path / "data.csv"
    data.write_bytes(b"x" * (3 * 1024 * 1024))
    with small_disk(tmp_path / "tiny", 2) as tiny:
        done = _mlmax_run(project, data, tiny)
        left = list(tiny.iterdir())
    assert done.returncode == 1, done.stderr
    assert _error_lines(done.stderr) == [
        f"error: job 'filler' needs about 16.0 MB for its files (twice its inputs and 10.0 MB), "
        f"more than is free in {tiny} (TMPDIR: 2.0 MB free of 2.0 MB); free space there, or "
        "point TMPDIR (and MLMAX_WORK_DIR, if set) at a disk with more room, e.g. "
        "TMPDIR=/var/tmp"
    ]
    assert not (project / "out").exists()
    assert left == []


@pytest.mark.smlocal
def test_a_tmpdir_that_fills_while_the_job_runs_is_named(sm_image, tmp_path):
    project = _project(tmp_path / "project")
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    with small_disk(tmp_path / "small", 16) as small:
        done = _mlmax_run(project, data, small)  # the job writes 40 MB
        left = list(small.iterdir())
    assert done.returncode == 1, done.stderr
    (line,) = _error_lines(done.stderr)
    assert line.startswith(f"error: job 'filler' ran out of disk space in {small} (TMPDIR: ")
    assert "MB free of 16.0 MB); free space there, or point TMPDIR" in line
    assert "No space left on device" in done.stderr  # the job's own log, below the sentence
    assert not (project / "out").exists()
    assert left == [], "the run's files are cleaned up"


def test_the_s3_server_answers_a_full_tmpdir_with_one_error_naming_it(tmp_path, monkeypatch, capfd):
    with small_disk(tmp_path / "small", 8) as small:
        monkeypatch.setenv("TMPDIR", str(small))  # the server's, where moto spools objects
        with S3Server() as server:
            client = boto3.client(
                "s3", endpoint_url=server.endpoint_url, region_name="us-east-1",
                aws_access_key_id=server.keys.access_key,
                aws_secret_access_key=server.keys.secret_key,
                config=Config(retries={"max_attempts": 1}),
            )  # fmt: skip
            client.create_bucket(Bucket="full-disk")
            with pytest.raises(ClientError) as refused:
                client.put_object(Bucket="full-disk", Key="big", Body=bytes(20 * 1024 * 1024))
            client.put_object(Bucket="full-disk", Key="small", Body=b"still serving")
            assert (
                client.get_object(Bucket="full-disk", Key="small")["Body"].read()
                == b"still serving"
            )
    error = refused.value.response["Error"]
    assert error["Code"] == "InsufficientStorage"
    assert error["Message"].startswith(
        f"No space left on device in {small} (TMPDIR of the S3 server, "
    )
    assert "Traceback" not in capfd.readouterr().err

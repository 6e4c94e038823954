"""The embedded S3 server's own process: keys kept private, never outliving its session."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlmax.common.waiting import WaitTimeout, wait_until
from mlmax.localmode.s3.server import S3Server, S3ServerError


def _gone(pid: int, within: float) -> bool:
    def exited() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        return state == "Z"

    try:
        return wait_until(exited, timeout=within, what=f"process {pid} exiting", interval=0.05)
    except WaitTimeout:
        return False


def test_the_keys_are_in_neither_the_command_line_nor_the_environment() -> None:
    with S3Server() as server:
        pid = server.pid
        for view in ("cmdline", "environ"):  # what /proc shows about a process
            seen = Path(f"/proc/{pid}/{view}").read_bytes()
            assert server.keys.secret_key.encode() not in seen
            assert server.keys.access_key.encode() not in seen
    assert _gone(pid, within=10)


def test_the_server_goes_when_its_session_is_killed(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from mlmax.localmode.s3.server import S3Server\n"
        "server = S3Server().start()\n"
        "print(server.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    session = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert session.stdout is not None
        server_pid = int(session.stdout.readline())
        session.send_signal(signal.SIGKILL)  # no clean-up code runs in the session
        session.wait()
        assert _gone(server_pid, within=30)
    finally:
        session.kill()
        session.wait()


def test_a_server_that_cannot_start_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server process that exits at once (here: no interpreter at all): start says so.
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(S3ServerError, match=r"did not start .*exited with code 1"):
        S3Server().start()


UNBUILT_ACTION = """
import sys
import boto3
import botocore.exceptions
from mlmax.localmode.s3.server import S3Server

with S3Server() as server:
    iam = boto3.client(
        "iam", endpoint_url=server.endpoint_url, region_name="us-east-1",
        aws_access_key_id=server.keys.access_key, aws_secret_access_key=server.keys.secret_key,
    )
    try:  # what the SDK asks while it builds a pipeline; moto has no such action
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::1:role/r", ActionNames=["s3:*"])
    except botocore.exceptions.ClientError as error:
        print(error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"])
    s3 = boto3.client(
        "s3", endpoint_url=server.endpoint_url, region_name="us-east-1",
        aws_access_key_id=server.keys.access_key, aws_secret_access_key=server.keys.secret_key,
    )
    s3.create_bucket(Bucket="still-serving")
    print([bucket["Name"] for bucket in s3.list_buckets()["Buckets"]])
"""


def test_an_action_the_server_lacks_is_one_error_to_the_client_and_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-c", UNBUILT_ACTION], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["501 NotImplemented", "['still-serving']"], done.stdout
    assert "Traceback" not in done.stderr, done.stderr

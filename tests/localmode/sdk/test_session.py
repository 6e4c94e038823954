"""The offline session and the embedded S3 server, without Docker."""

from __future__ import annotations

import os
import stat

import boto3
import pytest

from mlmax.localmode.s3.server import S3Server
from mlmax.localmode.sdk.environ import EnvironmentConflictError, scoped_environ
from mlmax.localmode.sdk.session import OfflineSession, remove_tree


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        yield server


def test_s3_server_listens_on_loopback_and_stops(tmp_path):
    with S3Server() as server:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=server.keys.access_key,
            aws_secret_access_key=server.keys.secret_key,
        )
        client.create_bucket(Bucket="probe")
        # moto keeps one backend per process: other tests' buckets may be listed too.
        assert "probe" in [b["Name"] for b in client.list_buckets()["Buckets"]]
        url = server.endpoint_url
    import urllib.request

    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_session_never_reads_the_users_aws_files(s3, tmp_path, monkeypatch):
    # A user with real credentials and a profile: none of it may be used.
    aws = tmp_path / "aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id=REALKEY\naws_secret_access_key=S\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "REALKEY")
    monkeypatch.setenv("AWS_PROFILE", "work")
    with OfflineSession(s3_endpoint_url=s3.endpoint_url, temp_parent=tmp_path) as session:
        creds = session.boto_session.get_credentials()
        # The embedded server's per-session keys, which it alone accepts.
        assert (creds.access_key, creds.secret_key) == (s3.keys.access_key, s3.keys.secret_key)
        with session.pinned():
            assert os.environ["AWS_ACCESS_KEY_ID"] == s3.keys.access_key
            assert os.environ["AWS_SECRET_ACCESS_KEY"] == s3.keys.secret_key
            assert "AWS_PROFILE" not in os.environ
            assert os.environ["AWS_ENDPOINT_URL"] == s3.endpoint_url
            assert not os.path.exists(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
            local = session.local_session(container_root=session.run_dir("r1"))
            assert local.config == {
                "local": {"local_code": True, "container_root": str(session.root / "r1")}
            }
            assert local.default_bucket() == session.bucket
        # restored afterwards
        assert os.environ["AWS_ACCESS_KEY_ID"] == "REALKEY"
        assert os.environ["AWS_PROFILE"] == "work"
        assert stat.S_IMODE(session.root.stat().st_mode) == 0o700
        root = session.root
    assert not root.exists()


def test_session_bucket_exists_in_the_embedded_s3(s3, tmp_path):
    with OfflineSession(s3_endpoint_url=s3.endpoint_url, temp_parent=tmp_path) as session:
        client = session.boto_session.client("s3", endpoint_url=s3.endpoint_url)
        assert session.bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_offline_session_needs_an_endpoint_unless_real_s3_is_asked_for():
    with pytest.raises(ValueError, match="real_s3=True"):
        OfflineSession(s3_endpoint_url=None)


def test_offline_session_needs_the_keys_of_a_server_it_did_not_start():
    with pytest.raises(ValueError, match="pass its keys as s3_keys"):
        OfflineSession(s3_endpoint_url="http://127.0.0.1:9")


def test_session_root_removed_even_with_read_only_entries(s3, tmp_path):
    with OfflineSession(s3_endpoint_url=s3.endpoint_url, temp_parent=tmp_path) as session:
        run = session.run_dir("r")
        (run / "f").write_text("x")
        run.chmod(0o500)
        root = session.root
    assert not root.exists()


def test_scoped_environ_restores_and_refuses_conflicts(monkeypatch):
    monkeypatch.setenv("MLMAX_PROBE", "before")
    with scoped_environ({"MLMAX_PROBE": "a", "MLMAX_GONE": None}):
        assert os.environ["MLMAX_PROBE"] == "a"
        with scoped_environ({"MLMAX_PROBE": "a"}):
            pass
        assert os.environ["MLMAX_PROBE"] == "a", "inner scope must not restore early"
        with (
            pytest.raises(EnvironmentConflictError, match="MLMAX_PROBE"),
            scoped_environ({"MLMAX_PROBE": "b"}),
        ):
            pass
    assert os.environ["MLMAX_PROBE"] == "before"


def test_work_dir_comes_from_the_environment(tmp_path, monkeypatch) -> None:
    # The dev container sets MLMAX_WORK_DIR inside the workspace (same path on the host), so
    # the directories Local Mode bind-mounts exist where the host's engine looks for them.
    from mlmax.localmode.sdk.session import WORK_DIR_ENV, work_dir

    monkeypatch.delenv(WORK_DIR_ENV, raising=False)
    assert work_dir() is None
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path / "ws" / ".mlmax"))
    assert work_dir() == tmp_path / "ws" / ".mlmax"
    assert (tmp_path / "ws" / ".mlmax").is_dir()
    assert work_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_a_clean_up_failure_is_a_warning_naming_the_path(s3, tmp_path, monkeypatch, caplog):
    # What a root-owned file in the run's directory did before containers ran as the user:
    # the clean-up after a succeeded job raised, and the job was reported as a crash.
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    with OfflineSession(s3_endpoint_url=s3.endpoint_url, temp_parent=tmp_path) as session:
        root = session.root
        monkeypatch.setattr("mlmax.localmode.sdk.session.shutil.rmtree", refuse)
    # No exception escaped the `with`; one warning names what is left.
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert f"could not remove {root}" in record.getMessage()
    assert "Permission denied" in record.getMessage()
    monkeypatch.undo()
    remove_tree(root)


def test_runs_start_compose_with_the_variables_its_check_proved(s3, tmp_path, monkeypatch):
    from mlmax.localmode.sdk import session as session_module

    monkeypatch.delenv("SETUPTOOLS_USE_DISTUTILS", raising=False)
    proved = {"SETUPTOOLS_USE_DISTUTILS": "stdlib"}
    monkeypatch.setattr(session_module, "compose_environment", lambda: proved)
    with OfflineSession(s3_endpoint_url=s3.endpoint_url, temp_parent=tmp_path) as session:
        with session.pinned():  # the SDK starts compose inside this, with os.environ
            assert os.environ["SETUPTOOLS_USE_DISTUTILS"] == "stdlib"
        assert "SETUPTOOLS_USE_DISTUTILS" not in os.environ

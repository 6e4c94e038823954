"""The offline SageMaker session: the SDK's LocalSession with nothing reaching past loopback.

`OfflineSession` owns what every Local Mode run of one process shares: a private (0700)
working directory, the telemetry opt-out config file, a boto session with the embedded S3
server's per-session random keys (the server refuses every other key) and its endpoint, and
the default bucket. `local_session()` makes a fresh
`LocalSession` per run, because the SDK reads the container root and the compose settings
(labels, ports) from the session's config and parallel runs need their own.

The user's real AWS credentials and config files are never read unless real S3 is asked for
explicitly (`real_s3=True` or MLMAX_REAL_S3=1); only then does boto's normal chain apply.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.session

from mlmax.common import require_extra
from mlmax.localmode.engine import Owner, compose_environment
from mlmax.localmode.s3 import SessionKeys, keys_for, wait_until_ready
from mlmax.localmode.sdk.environ import scoped_environ
from mlmax.localmode.sdk.speedups import import_sdk

logger = logging.getLogger(__name__)
DEFAULT_REGION = "us-east-1"
REAL_S3_ENV = "MLMAX_REAL_S3"

TELEMETRY_OPT_OUT: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
# Variables that would send boto to the user's own identity or to instance metadata.
_CREDENTIAL_SOURCES = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def real_s3_requested() -> bool:
    """True when the user explicitly asked to use real S3 with their own credentials."""
    return os.environ.get(REAL_S3_ENV, "").strip().lower() in {"1", "true", "yes"}


def remove_tree(path: Path) -> None:
    """Remove a directory tree, including read-only entries containers may leave behind."""

    def make_writable_and_retry(function: Any, failed: str, _exc_info: Any) -> None:
        parent = os.path.dirname(failed)
        with contextlib.suppress(OSError):
            os.chmod(parent, stat.S_IRWXU)
            os.chmod(failed, stat.S_IRWXU)
        function(failed)

    if path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)


def remove_tree_or_warn(path: Path) -> None:
    """`remove_tree` for clean-up after a run: a failure is a warning naming the path, never
    an error that would turn the run's real outcome (often a success) into a crash."""
    try:
        remove_tree(path)
    except OSError as error:
        logger.warning(
            "warning: could not remove %s (%s); the run's result is not affected, remove it "
            "yourself",
            path,
            error.strerror or error,
        )


def preload_sdk() -> None:
    """Import the SageMaker SDK modules a Local Mode run uses (seconds of CPU).

    Called while the embedded S3 server starts in its own process, so the two overlap; the
    first run would otherwise import them itself.
    """
    import_sdk("sagemaker.core.local", "sagemaker.core.processing", "sagemaker.core.shapes")


WORK_DIR_ENV = "MLMAX_WORK_DIR"
TEMP_PREFIX = "mlmax-localmode-"
OWNER_MARKER = ".mlmax-owner.json"


def write_owner_marker(directory: Path) -> None:
    """Record this process as the owner of `directory` (see Owner)."""
    marker = json.dumps(Owner.current().to_json())
    (directory / OWNER_MARKER).write_text(marker + "\n", encoding="utf-8")


def read_owner_marker(directory: Path) -> Owner | None:
    """The owner recorded in `directory`, or None when there is no readable marker."""
    try:
        return Owner.from_json(json.loads((directory / OWNER_MARKER).read_text()))
    except (OSError, ValueError):
        return None


def work_dir(explicit: Path | None = None) -> Path | None:
    """The parent of Local Mode's temporary directories: explicit, `$MLMAX_WORK_DIR`, or the
    system temp dir (None).

    With docker-outside-of-docker (the dev container), the engine resolves bind-mount sources
    on the host, so these directories must live in the workspace, which has the same path on
    both sides.
    """
    if explicit is not None:
        return explicit
    configured = os.environ.get(WORK_DIR_ENV)
    if not configured:
        return None
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    return path


class OfflineSession:
    """Everything Local Mode runs of this process share; a context manager that cleans up."""

    def __init__(
        self,
        *,
        s3_endpoint_url: str | None,
        region: str = DEFAULT_REGION,
        real_s3: bool = False,
        bucket: str | None = None,
        temp_parent: Path | None = None,
        s3_keys: SessionKeys | None = None,
    ) -> None:
        if not real_s3 and not s3_endpoint_url:
            raise ValueError(
                "an offline session needs the embedded S3 endpoint (s3_endpoint_url); pass "
                "real_s3=True to use real S3 with your own credentials instead"
            )
        keys = None if real_s3 else (s3_keys or keys_for(str(s3_endpoint_url)))
        if not real_s3 and keys is None:
            raise ValueError(
                f"no keys for the S3 server at {s3_endpoint_url}: it is not an embedded server "
                "of this process; pass its keys as s3_keys"
            )
        self._keys = keys
        self.real_s3 = real_s3
        self.s3_endpoint_url = None if real_s3 else s3_endpoint_url
        self.region = region
        self._bucket = bucket
        self._temp_parent = temp_parent
        self.root: Path = Path()
        self.config_file: Path = Path()
        self.boto_session: boto3.Session | None = None
        self._compose_environment: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> OfflineSession:
        self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=work_dir(self._temp_parent)))
        os.chmod(self.root, stat.S_IRWXU)  # mkdtemp already does; say it, the SDK relies on it
        try:
            # Who owns this directory, so a later session can sweep it if we are SIGKILLed.
            write_owner_marker(self.root)
            self.config_file = self.root / "sagemaker-config.yaml"
            self.config_file.write_text(
                "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
                "      TelemetryOptOut: true\n",
                encoding="utf-8",
            )
            self._compose_environment = compose_environment()
            with self.pinned():
                self.boto_session = self._make_boto_session()
                if not self.real_s3:
                    self._bucket = self._bucket or f"mlmax-local-{secrets.token_hex(4)}"
                    self._create_bucket(self._bucket)
        except BaseException:
            remove_tree(self.root)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        remove_tree_or_warn(self.root)

    # -- what runs use ---------------------------------------------------------------------
    @property
    def bucket(self) -> str | None:
        """The default bucket (None with real S3 and no bucket given: the SDK picks one)."""
        return self._bucket

    def environ(self) -> dict[str, str | None]:
        """Environment variables a run pins while the SDK works (see `pinned`)."""
        values: dict[str, str | None] = {
            # The SDK reads these for telemetry and defaults, also where it builds its own
            # session (ModelTrainer); they replace ~/.config and /etc/xdg config files.
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(self.config_file),
            "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(self.config_file),
            # The SDK sets this for good on first use; pinning it restores the old value.
            "COMPOSE_HTTP_TIMEOUT": "120",
            # The SDK starts compose with this process's environment: a faster start where
            # the compose check proved it works (engine.compose_environment).
            **self._compose_environment,
        }
        keys = self._keys
        if keys is None:  # real S3: the machine's own credentials and config
            return values
        missing = str(self.root / "no-aws-config")  # never created: boto reads nothing
        values.update(
            {
                "AWS_ACCESS_KEY_ID": keys.access_key,
                "AWS_SECRET_ACCESS_KEY": keys.secret_key,
                "AWS_SHARED_CREDENTIALS_FILE": missing,
                "AWS_CONFIG_FILE": missing,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ENDPOINT_URL": self.s3_endpoint_url,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        values.update(dict.fromkeys(_CREDENTIAL_SOURCES))
        return values

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Pin `environ()` for the block; the previous environment comes back afterwards."""
        with scoped_environ(self.environ()):
            yield

    def run_dir(self, run_id: str) -> Path:
        """A fresh private directory for one run, inside this session's root."""
        path = self.root / run_id
        path.mkdir(mode=stat.S_IRWXU)
        return path

    def local_session(
        self,
        *,
        container_root: Path,
        container_config: dict[str, Any] | None = None,
        serving_port: int | None = None,
        pipeline: bool = False,
    ) -> Any:
        """A new SDK LocalSession whose containers live under `container_root`.

        `container_config` is merged by the SDK into each compose service (labels, ports).
        `serving_port` is the host port of an endpoint this session hosts. With `pipeline`,
        the session also builds pipeline steps and executes pipelines in Local Mode (the
        SDK's LocalPipelineSession). Call inside `pinned()`.
        """
        from mlmax.localmode.sdk import internals
        from mlmax.localmode.sdk.hooks import install_sdk_hooks

        session_class: type
        if pipeline:
            require_extra("pipelines", "a local SageMaker Pipeline session")
            import_sdk("sagemaker.mlops.local")
            session_class = internals.offline_pipeline_session_class()
        else:
            from sagemaker.core.local import LocalSession

            session_class = LocalSession
        install_sdk_hooks()
        session = session_class(
            boto_session=self.boto_session,
            default_bucket=self._bucket,
            s3_endpoint_url=self.s3_endpoint_url,
            sagemaker_config=TELEMETRY_OPT_OUT,
        )
        # LocalSession.__init__ loads ~/.sagemaker/config.yaml into .config; replace it so
        # nothing from the user's machine shapes the containers.
        local: dict[str, Any] = {"local_code": True, "container_root": str(container_root)}
        if container_config:
            local["container_config"] = container_config
        if serving_port is not None:
            local["serving_port"] = serving_port
        session.config = {"local": local}
        if pipeline:
            internals.forward_pipeline_calls(session)
        return session

    # -- helpers ---------------------------------------------------------------------------
    def _make_boto_session(self) -> boto3.Session:
        if self.real_s3:
            return boto3.Session(region_name=self.region)
        core = botocore.session.Session()
        missing = str(self.root / "no-aws-config")
        # Belt and braces with the pinned environment: this session never opens the user's
        # ~/.aws files, even if used outside `pinned()` later.
        core.set_config_variable("config_file", missing)
        core.set_config_variable("credentials_file", missing)
        assert self._keys is not None
        return boto3.Session(
            aws_access_key_id=self._keys.access_key,
            aws_secret_access_key=self._keys.secret_key,
            region_name=self.region,
            botocore_session=core,
        )

    def _create_bucket(self, name: str) -> None:
        assert self.boto_session is not None
        wait_until_ready(str(self.s3_endpoint_url))  # an embedded server may still be starting
        client = self.boto_session.client("s3", endpoint_url=self.s3_endpoint_url)
        client.create_bucket(Bucket=name)

"""The SageMaker runner: each job as a managed SageMaker job, data and code in S3.

The same catalogue jobs and the same step builders as Local Mode; only the session (a real
boto-backed SageMaker session), the instance types (`ml.*`) and the data locations change.
Every channel lives in S3 under one prefix per run:

    s3://<bucket>/<prefix>/<run>/<step>/<output>       what a step writes
    s3://<bucket>/<prefix>/<run>/inputs/<step>-<name>  host data given to the pipeline

A host directory that an earlier step of the run wrote is read from that step's S3 output,
so the wiring of the pipeline carries over unchanged and nothing is uploaded twice. Outputs
are downloaded back into the host directories the caller asked for (the report needs them).

The SDK objects come from the shared job builders (`mlmax.localmode.sdk.job_objects`);
waiting for the managed jobs is `watch.py`'s; the settings and their environment variables
are `settings.py`'s.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from mlmax.cloud.job_code import stage_job_code
from mlmax.cloud.settings import (
    DEFAULT_PREFIX,
    DEFAULT_PROCESSING_INSTANCE,
    DEFAULT_TRAINING_INSTANCE,
    IMAGE_ENV,
    ROLE_ENV,
    EnvironmentSettings,
    parse_role_arn,
)
from mlmax.cloud.watch import (
    DEFAULT_POLL_SECONDS,
    PROCESSING_API,
    TRAINING_API,
    CloudWatchTail,
    JobKindApi,
    JobWatcher,
)
from mlmax.common import Progress, or_default
from mlmax.localmode.sdk import (
    latest_training_job_name,
    processing_step,
    role_from_sdk_config,
    training_step,
)
from mlmax.project import (
    JOBS_DIR,
    JobDefinition,
    JobRun,
    RunnerUnavailableError,
    StepFailed,
    StepResult,
)


class SageMakerConfigError(RunnerUnavailableError, ValueError):
    """The runner cannot start: a role, bucket, image or instance type is missing or wrong."""


@dataclass(frozen=True)
class SageMakerOptions:
    """Where and how the managed jobs run. Unset values come from the SDK's own config."""

    role: str | None = None
    bucket: str | None = None
    prefix: str = DEFAULT_PREFIX
    region: str | None = None
    image_uri: str | None = None
    # Per-job (catalogue job name) instance types; unset jobs get the defaults by kind.
    instance_types: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    logs: bool = True
    poll_seconds: float = DEFAULT_POLL_SECONDS
    download_outputs: bool = True

    @classmethod
    def from_environment(cls, **overrides: Any) -> SageMakerOptions:
        """Options from MLMAX_SAGEMAKER_ROLE/_BUCKET/_IMAGE; given values win."""
        environment = EnvironmentSettings.read()
        values: dict[str, Any] = {
            "role": environment.role,
            "bucket": environment.bucket,
            "image_uri": environment.image,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def instance_type(self, job: JobDefinition) -> str:
        if job.name in self.instance_types:
            return self.instance_types[job.name]
        if job.instance_type:  # declared in the project's [tool.mlmax.jobs.<name>]
            return job.instance_type
        if job.kind == "training":
            return DEFAULT_TRAINING_INSTANCE
        return DEFAULT_PROCESSING_INSTANCE


def parse_instance_type(spec: str) -> tuple[str, str]:
    """`"train=ml.c5.2xlarge"` -> ("train", "ml.c5.2xlarge"), or one clear error."""
    from mlmax.project import JOBS

    job, sep, instance = spec.partition("=")
    if not sep or job not in JOBS or not instance.startswith("ml."):
        raise SageMakerConfigError(
            f"bad instance type {spec!r}; write JOB=ml.TYPE with JOB one of "
            f"{', '.join(sorted(JOBS))}, e.g. train=ml.m5.2xlarge"
        )
    return job, instance


def default_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def s3_join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p)


class SageMakerRunner:
    """Runs catalogue jobs as managed SageMaker processing and training jobs."""

    name = "sagemaker"

    def __init__(
        self,
        options: SageMakerOptions | None = None,
        *,
        boto_session: Any | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options or SageMakerOptions()
        self._boto_session = boto_session
        self._progress = or_default(progress)
        self._sleep = sleep
        self.session: Any | None = None
        self.role: str = ""
        self.bucket: str = ""
        self.image_uri: str = ""
        self.run_id: str = self.options.run_id or default_run_id()
        # host directory (resolved) -> the S3 URI holding the same data
        self._s3_of_host_dir: dict[Path, str] = {}
        self._step_names: set[str] = set()
        self.job_names: dict[str, str] = {}
        self._code_dir: tempfile.TemporaryDirectory[str] | None = None

    # -- set-up
    def __enter__(self) -> Self:
        import boto3

        from mlmax.localmode.sdk import import_sdk, install_sdk_hooks

        import_sdk()
        from sagemaker.core.helper.session_helper import Session

        install_sdk_hooks(local_mode=False)  # the SDK re-validates its config on every lookup
        boto_session = self._boto_session or boto3.Session(region_name=self.options.region)
        if not boto_session.region_name:
            raise SageMakerConfigError(
                "no AWS region is set; pass --region or set AWS_DEFAULT_REGION"
            )
        self.session = Session(boto_session=boto_session, default_bucket=self.options.bucket)
        self.role = self._resolve_role()
        self.bucket = self.session.default_bucket()
        self.image_uri = self._resolve_image()
        self._code_dir = tempfile.TemporaryDirectory(prefix="mlmax-sagemaker-code-")
        stage_job_code(Path(self._code_dir.name))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session = None
        if self._code_dir is not None:
            self._code_dir.cleanup()
            self._code_dir = None

    @property
    def code_dir(self) -> Path:
        assert self._code_dir is not None
        return Path(self._code_dir.name)

    def _resolve_role(self) -> str:
        role = self.options.role or role_from_sdk_config(self.session)
        if not role:
            raise SageMakerConfigError(
                "no SageMaker execution role; pass --role arn:aws:iam::<account>:role/<name>, "
                f"set {ROLE_ENV}, or set SageMaker.TrainingJob.RoleArn in the SageMaker SDK "
                "config file"
            )
        if parse_role_arn(role) is None:
            raise SageMakerConfigError(
                f"role {role!r} is not a role ARN; pass the full "
                "arn:aws:iam::<12-digit account>:role/<name>"
            )
        return role

    def _resolve_image(self) -> str:
        image = self.options.image_uri or EnvironmentSettings.read().image
        if not image:
            raise SageMakerConfigError(
                "no job image for SageMaker; push the mlmax job image to your registry and "
                f"pass --image <uri> (or set {IMAGE_ENV})"
            )
        return image

    # -- locations
    def run_uri(self, *parts: str) -> str:
        return "s3://" + s3_join(self.bucket, self.options.prefix, self.run_id, *parts)

    def _step_name(self, job: JobDefinition) -> str:
        name, n = job.name, 1
        while name in self._step_names:
            n += 1
            name = f"{job.name}-{n}"
        self._step_names.add(name)
        return name

    def _input_uri(self, step: str, channel: str, host_dir: Path) -> str:
        key = Path(host_dir).resolve()
        if key in self._s3_of_host_dir:
            return self._s3_of_host_dir[key]
        if not key.exists():
            raise StepFailed(step, None, "", reason=f"has no input {channel!r}: {key} is missing")
        uri = self.run_uri("inputs", f"{step}-{channel}")
        self._progress(f"[{step}] uploading {key} to {uri}")
        self.session.upload_data(  # type: ignore[union-attr]
            str(key), bucket=self.bucket, key_prefix=uri.removeprefix(f"s3://{self.bucket}/")
        )
        self._s3_of_host_dir[key] = uri
        return uri

    # -- running
    def run_step(self, step_run: JobRun) -> StepResult:
        if self.session is None:
            raise RuntimeError("use the SageMaker runner as a context manager")
        job = step_run.job
        step = self._step_name(job)
        inputs = {c: self._input_uri(step, c, p) for c, p in step_run.inputs.items()}
        outputs = {name: self.run_uri(step, name) for name in step_run.outputs}
        instance_type = self.options.instance_type(job)
        self._progress(f"[{step}] starting on {instance_type}")
        started = time.perf_counter()
        if job.kind == "training":
            watcher, final_outputs = self._start_training(step, step_run, inputs, outputs)
        else:
            watcher, final_outputs = self._start_processing(step, step_run, inputs, outputs)
        self.job_names[step] = watcher.job_name
        watcher.wait()
        for name, host_dir in step_run.outputs.items():
            self._s3_of_host_dir[Path(host_dir).resolve()] = final_outputs[name]
            if self.options.download_outputs:
                self._download(final_outputs[name], Path(host_dir))
        return StepResult(job.name, time.perf_counter() - started, "\n".join(watcher.log_lines))

    def _watcher(self, api: JobKindApi, job_name: str, step: str) -> JobWatcher:
        assert self.session is not None
        logs = None
        if self.options.logs:
            logs = CloudWatchTail(self.session.boto_session.client("logs"), api.log_group, job_name)
        return JobWatcher(
            self.session.sagemaker_client,
            api,
            job_name,
            step=step,
            logs=logs,
            progress=self._progress,
            sleep=self._sleep,
            poll_seconds=self.options.poll_seconds,
        )

    def _code_for(self, job: JobDefinition) -> Path:
        """mlmax's jobs ship from the staged copy; a project's from its declared folder."""
        return self.code_dir if job.source_dir == JOBS_DIR else job.source_dir

    def _start_processing(
        self, step: str, step_run: JobRun, inputs: dict[str, str], outputs: dict[str, str]
    ) -> tuple[JobWatcher, dict[str, str]]:
        job_name = f"mlmax-{step}-{self.run_id}"[:63]
        processing_step(
            step_run.job,
            image=self.image_uri,
            session=self.session,
            inputs=inputs,
            outputs=outputs,
            arguments=step_run.all_arguments,
            instance_type=self.options.instance_type(step_run.job),
            role=self.role,
            code_dir=self._code_for(step_run.job),
            job_name=job_name,
        ).execute(wait=False, logs=False)
        return self._watcher(PROCESSING_API, job_name, step), outputs

    def _start_training(
        self, step: str, step_run: JobRun, inputs: dict[str, str], outputs: dict[str, str]
    ) -> tuple[JobWatcher, dict[str, str]]:
        (output_name,) = [c.name for c in step_run.job.outputs]
        training = training_step(
            step_run.job,
            image=self.image_uri,
            session=self.session,
            inputs=inputs,
            arguments=step_run.all_arguments,
            instance_type=self.options.instance_type(step_run.job),
            role=self.role,
            code_dir=self._code_for(step_run.job),
            output_path=outputs.get(output_name, self.run_uri(step, output_name)),
            job_name_prefix=f"mlmax-{step}",
        )
        training.execute(wait=False, logs=False)
        job_name = latest_training_job_name(training.trainer)
        base = outputs.get(output_name, self.run_uri(step, output_name))
        # SageMaker packs SM_MODEL_DIR as <output path>/<job name>/output/model.tar.gz.
        model_uri = s3_join(base, job_name, "output", "model.tar.gz")
        return self._watcher(TRAINING_API, job_name, step), {output_name: model_uri}

    def _download(self, uri: str, host_dir: Path) -> None:
        assert self.session is not None
        host_dir.mkdir(parents=True, exist_ok=True)
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        # A model stays packed (model.tar.gz), as Local Mode leaves it: the jobs and the
        # endpoint read the archive in memory, so nothing is ever extracted.
        self.session.download_data(str(host_dir), bucket, key_prefix=key)

"""Every SageMaker SDK internal that mlmax touches, listed and reached in this one module.

mlmax extends the SDK's Local Mode (labels, users and mounts on training containers, mount
sources created first, the embedded S3 keys kept out of containers, loopback-only endpoints,
debugpy, a config-validation cache) and reads a few private attributes. Each touch point is
a `Hook` in `HOOKS`: where it lives in the SDK, what mlmax needs it for and the parameters
mlmax relies on. The modules that change the SDK's behaviour go through the functions here
(`wrap`, `patched`, the accessors below) and name no SDK internal of their own.

tests/localmode/sdk/test_internals.py checks every hook against the installed SDK, without
mocks: an SDK upgrade that moves, renames or reshapes one fails there, naming the hook and
the SDK version, and `wrap`/`patched` raise the same `SdkHookError` at run time. A wrapper
relies on more than a name and parameters: on what the function does (it post-processes its
result, or does its work another way) and on the attributes it reads off `self`. So the
source of every function mlmax calls, wraps or patches is recorded as a digest
(`BODY_DIGESTS`) and the attributes as `reads`: an upgrade that changes a body or stops
setting an attribute fails the same test, naming the hook, until someone has checked the
wrapper against the new body and recorded its digest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mlmax.common import EnvironmentNotReadyError

# The SDK's distributions mlmax hooks and the ranges it is tested with (pyproject.toml's);
# the message of every SdkHookError says them. mlmax installs the distributions, not the
# `sagemaker` meta-package, whose version may therefore be absent.
SDK_DISTRIBUTIONS = {
    "sagemaker-core": ">=2.27,<3",
    "sagemaker-train": ">=1.27,<2",
    "sagemaker-mlops": ">=1.27,<2",
}
SUPPORTED_SDK = " ".join(f"'{name}{versions}'" for name, versions in SDK_DISTRIBUTIONS.items())
_lock = threading.RLock()

Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def sdk_version() -> str:
    """The installed versions of the SDK's distributions, e.g. `sagemaker-core 2.27.0, ...`."""
    found = []
    for name in SDK_DISTRIBUTIONS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


class SdkHookError(EnvironmentNotReadyError, RuntimeError):
    """The installed SageMaker SDK no longer has an internal mlmax hooks, in the shape mlmax
    relies on; the message names the hook, the SDK version and what stops working."""

    def __init__(self, hook: Hook, problem: str) -> None:
        self.hook = hook
        super().__init__(
            f"SageMaker SDK ({sdk_version()}): {hook.path} {problem}; mlmax hooks it to "
            f"{hook.purpose} (pip install {SUPPORTED_SDK}, the versions mlmax supports)"
        )


@dataclass(frozen=True)
class Hook:
    """One SDK internal: `module`, a dotted `attribute` inside it ("" for the module itself),
    and the leading `parameters` mlmax relies on (None: not a callable mlmax calls or wraps)."""

    module: str
    attribute: str
    purpose: str
    parameters: tuple[str, ...] | None = None
    # A pydantic private attribute read off instances (not present on the class itself).
    instance_attribute: bool = False
    # Attributes of the hooked method's instance that mlmax's wrapper reads.
    reads: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.module}.{self.attribute}" if self.attribute else self.module

    def _owner_and_name(self) -> tuple[Any, str]:
        try:
            owner: Any = importlib.import_module(self.module)
        except ImportError as error:
            raise SdkHookError(self, f"cannot be imported ({error})") from error
        *parents, name = self.attribute.split(".") if self.attribute else [""]
        for part in parents:
            if not hasattr(owner, part):
                raise SdkHookError(self, f"is gone ({part!r} is missing)")
            owner = getattr(owner, part)
        return owner, name

    def target(self) -> tuple[Any, str, Any]:
        """(owner, name, the SDK's object), checked; SdkHookError when it moved or changed."""
        owner, name = self._owner_and_name()
        if not name:
            return owner, name, owner
        if self.instance_attribute:
            private = getattr(owner, "__private_attributes__", {}) or {}
            if name not in private:
                raise SdkHookError(self, "is no longer a private attribute of its class")
            return owner, name, private[name]
        try:
            found = inspect.getattr_static(owner, name)
        except AttributeError:
            raise SdkHookError(self, "is gone") from None
        original = found.__func__ if isinstance(found, staticmethod | classmethod) else found
        if self.parameters is not None:
            self._check_parameters(original)
        return owner, name, original

    def _check_parameters(self, function: Any) -> None:
        try:
            signature = inspect.signature(inspect.unwrap(function))
        except (TypeError, ValueError) as error:
            raise SdkHookError(self, f"is no longer a function ({error})") from None
        assert self.parameters is not None
        found = tuple(signature.parameters)[: len(self.parameters)]
        if found != self.parameters:
            raise SdkHookError(
                self, f"takes ({', '.join(found)}), not ({', '.join(self.parameters)})"
            )

    def check(self) -> None:
        """Raise SdkHookError unless the installed SDK still has this hook as mlmax uses it."""
        self.target()

    def source_digest(self) -> str:
        """A digest of the source of the SDK's function (through any wrapper of mlmax's)."""
        function = inspect.unwrap(self.target()[2])
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]

    def check_source(self) -> None:
        """Raise SdkHookError unless the function's body is the one recorded in
        `BODY_DIGESTS` and its class still sets every attribute of `reads`."""
        if self.parameters is not None:
            recorded = BODY_DIGESTS.get(self.path)
            found = self.source_digest()
            if recorded != found:
                raise SdkHookError(
                    self,
                    f"has a body mlmax has not checked (digest {found}, recorded {recorded}); "
                    "check the wrapper against it, then record the digest in BODY_DIGESTS",
                )
        if self.reads:
            owner = self._owner_and_name()[0]
            source = inspect.getsource(owner)
            fields = getattr(owner, "model_fields", {}) or {}
            for name in self.reads:
                if name not in fields and not re.search(rf"\bself\.{name}\s*=", source):
                    raise SdkHookError(self, f"no longer sets {name!r}, which mlmax reads")


def _hook(
    path: str,
    purpose: str,
    *parameters: str,
    instance_attribute: bool = False,
    reads: tuple[str, ...] = (),
) -> Hook:
    """`module:Attribute.path` -> Hook (the colon says where the module ends)."""
    module, _, attribute = path.partition(":")
    return Hook(module, attribute, purpose, parameters or None, instance_attribute, reads)


_LABEL_TRAINING = "give training containers labels, the calling user, mounts and a debug port"
_MOUNT_SOURCES = "create bind-mount sources as the calling user before compose does"
_NO_KEYS = "keep the embedded S3 server's keys out of job containers and compose files"
_CONFIG_CACHE = "validate each SDK config once instead of on every lookup"
_DEBUG = "run a test's own processors and trainers under debugpy (--inspectlocal)"
_PIPELINE = "run the exported pipeline in a local pipeline session"
_DEBUG_STEP = "run one step of a local pipeline under debugpy (--inspect-job, --debug-step)"

TRAINING_DOCKER_HOST = _hook(
    "sagemaker.train.local.local_container:_LocalContainer._create_docker_host",
    f"{_LABEL_TRAINING}, and {_MOUNT_SOURCES}",
    *("self", "host", "environment", "volumes"),
    reads=("container_root",),
)
PROCESSING_DOCKER_HOST = _hook(
    "sagemaker.core.local.image:_SageMakerContainer._create_docker_host",
    f"keep endpoints on 127.0.0.1 with their debug port, and {_MOUNT_SOURCES}",
    *("self", "host", "environment", "optml_subdirs", "command", "volumes"),
)
WAIT_FOR_SERVING = _hook(
    "sagemaker.core.local.entities:_wait_for_serving_container",
    "hand an endpoint's readiness check to mlmax's own watcher",
    *("serving_port", "timeout"),
)
HOSTING_RUN = _hook(
    "sagemaker.core.local.image:_HostingContainer.run",
    "run an endpoint's compose process without echoing its output",
    "self",
    reads=("command", "process"),
)
AWS_CREDENTIALS = tuple(
    _hook(f"{module}:_aws_credentials", _NO_KEYS, "session")
    for module in (
        "sagemaker.core.local.image",
        "sagemaker.train.local.local_container",
        "sagemaker.core.modules.local_core.local_container",
    )
)
STREAM_OUTPUT = tuple(
    _hook(
        f"{module}:_stream_output",
        "echo compose's output to the stream a run names, not the process's stdout",
        "process",
    )
    for module in (
        "sagemaker.core.local.image",
        "sagemaker.train.local.local_container",
        "sagemaker.core.modules.local_core.local_container",
    )
)
CONFIG_VALIDATION = (
    _hook(
        "sagemaker.core.config.config_manager:SageMakerConfig.validate_sagemaker_config",
        _CONFIG_CACHE,
        "sagemaker_config",
    ),
    *(
        _hook(f"{module}:validate_sagemaker_config", _CONFIG_CACHE, "sagemaker_config")
        for module in (
            "sagemaker.core.config.config",
            "sagemaker.core.helper.session_helper",
            "sagemaker.core.local.local_session",
        )
    ),
)
DEBUG_PROCESSOR_RUNS = (
    _hook("sagemaker.core.processing:ScriptProcessor.run", _DEBUG, "self", "code"),
    _hook("sagemaker.core.processing:FrameworkProcessor.run", _DEBUG, "self", "code"),
)
DEBUG_TRAINER_TRAIN = _hook(
    "sagemaker.train.model_trainer:ModelTrainer.train", _DEBUG, "self", "input_data_config"
)
UNIQUE_NAME = _hook(
    "sagemaker.train.model_trainer:_get_unique_name",
    "name a pipeline's training code after its hash, so the exported definition is stable",
    "base",
)
LATEST_TRAINING_JOB = _hook(
    "sagemaker.train.model_trainer:ModelTrainer._latest_training_job",
    "learn the name SageMaker gave a training job started with wait=False",
    instance_attribute=True,
)
TRAINER_TEMP_CODE_DIR = _hook(
    "sagemaker.train.model_trainer:ModelTrainer._temp_code_dir",
    "remove the temp dir a trainer built under a pipeline session keeps until exit",
    instance_attribute=True,
)
STEP_ARGUMENTS = _hook(
    "sagemaker.core.workflow.pipeline_context:_StepArguments.__init__",
    "find the trainer behind a pipeline TrainingStep (its func_args)",
    *("self", "caller_name", "func", "func_args"),
)
# The local pipeline executor runs each step in `_execute_step`, which evaluates the step's
# request (`evaluate_step_arguments`) and hands it to the local client's create_*_job.
PIPELINE_STEP_EXECUTION = _hook(
    "sagemaker.mlops.local.pipeline:LocalPipelineExecutor._execute_step",
    _DEBUG_STEP,
    *("self", "step"),
    reads=("execution",),
)
PIPELINE_STEP_REQUEST = _hook(
    "sagemaker.mlops.local.pipeline:LocalPipelineExecutor.evaluate_step_arguments",
    _DEBUG_STEP,
    *("self", "step"),
)
PIPELINE_CALLS = (
    "create_pipeline",
    "update_pipeline",
    "describe_pipeline",
    "delete_pipeline",
    "start_pipeline_execution",
)
LOCAL_PIPELINE_SESSION_CALLS = tuple(
    _hook(f"sagemaker.mlops.local:LocalPipelineSession.{call}", _PIPELINE, *parameters)
    for call, parameters in zip(
        PIPELINE_CALLS,
        [
            ("self", "pipeline", "pipeline_description"),
            ("self", "pipeline", "pipeline_description"),
            ("self", "PipelineName"),
            ("self", "PipelineName"),
            ("self", "PipelineName"),
        ],
        strict=True,
    )
)
PIPELINE_EXECUTOR_LOG = _hook(
    "sagemaker.mlops.local.pipeline_entities",
    "turn the local pipeline executor's step lines into progress lines",
)
ROLE_FROM_CONFIG = (
    _hook(
        "sagemaker.core.common_utils:resolve_value_from_config",
        "read the execution role from the SDK config file when --role is not given",
        *("direct_input", "config_path", "default_value", "sagemaker_session"),
    ),
    _hook(
        "sagemaker.core.config.config_schema:TRAINING_JOB_ROLE_ARN_PATH",
        "read the execution role from the SDK config file when --role is not given",
    ),
)
ROLE_VALIDATION_ERROR = _hook(
    "sagemaker.core.helper.iam_role_resolver:RoleValidationError",
    "say in one line why `pipeline export --upsert` refused the execution role",
)

HOOKS: tuple[Hook, ...] = (
    TRAINING_DOCKER_HOST,
    PROCESSING_DOCKER_HOST,
    WAIT_FOR_SERVING,
    HOSTING_RUN,
    *AWS_CREDENTIALS,
    *STREAM_OUTPUT,
    *CONFIG_VALIDATION,
    *DEBUG_PROCESSOR_RUNS,
    DEBUG_TRAINER_TRAIN,
    UNIQUE_NAME,
    LATEST_TRAINING_JOB,
    TRAINER_TEMP_CODE_DIR,
    STEP_ARGUMENTS,
    PIPELINE_STEP_EXECUTION,
    PIPELINE_STEP_REQUEST,
    *LOCAL_PIPELINE_SESSION_CALLS,
    PIPELINE_EXECUTOR_LOG,
    *ROLE_FROM_CONFIG,
    ROLE_VALIDATION_ERROR,
)


# The source of every function mlmax calls, wraps or patches, as the SDK versions mlmax is
# tested with have it (see `Hook.check_source`). A new digest is recorded only after the
# wrapper was checked against the new body.
BODY_DIGESTS: dict[str, str] = {
    "sagemaker.train.local.local_container._LocalContainer._create_docker_host": "a9099e92a8ba77e8",
    "sagemaker.core.local.image._SageMakerContainer._create_docker_host": "cc296cf3aae7e927",
    "sagemaker.core.local.entities._wait_for_serving_container": "38ec916308021f2a",
    "sagemaker.core.local.image._HostingContainer.run": "1639d89172801a77",
    "sagemaker.core.local.image._aws_credentials": "b7775a150ff50441",
    "sagemaker.train.local.local_container._aws_credentials": "b7775a150ff50441",
    "sagemaker.core.modules.local_core.local_container._aws_credentials": "b7775a150ff50441",
    "sagemaker.core.local.image._stream_output": "e624060b9a87cf90",
    "sagemaker.train.local.local_container._stream_output": "e624060b9a87cf90",
    "sagemaker.core.modules.local_core.local_container._stream_output": "e624060b9a87cf90",
    "sagemaker.core.config.config_manager.SageMakerConfig.validate_sagemaker_config": (
        "2342cf8aecf571c0"
    ),
    "sagemaker.core.config.config.validate_sagemaker_config": "fe56a2414f1dda78",
    "sagemaker.core.helper.session_helper.validate_sagemaker_config": "fe56a2414f1dda78",
    "sagemaker.core.local.local_session.validate_sagemaker_config": "fe56a2414f1dda78",
    "sagemaker.core.processing.ScriptProcessor.run": "8a4b69e8538c73e2",
    "sagemaker.core.processing.FrameworkProcessor.run": "541c40a5b0f64e1f",
    "sagemaker.train.model_trainer.ModelTrainer.train": "3f5f29dd3d799117",
    "sagemaker.train.model_trainer._get_unique_name": "69daac74304dbd52",
    "sagemaker.core.workflow.pipeline_context._StepArguments.__init__": "811a2cb28388ab6b",
    "sagemaker.mlops.local.pipeline.LocalPipelineExecutor._execute_step": "50e4fde61c64b507",
    "sagemaker.mlops.local.pipeline.LocalPipelineExecutor.evaluate_step_arguments": (
        "d9940e4fe9293e7a"
    ),
    "sagemaker.mlops.local.LocalPipelineSession.create_pipeline": "95e11305a00e7178",
    "sagemaker.mlops.local.LocalPipelineSession.update_pipeline": "b1126080d1a2d304",
    "sagemaker.mlops.local.LocalPipelineSession.describe_pipeline": "cc6c8cc0c07e62f8",
    "sagemaker.mlops.local.LocalPipelineSession.delete_pipeline": "ec7f68cd1c5ca797",
    "sagemaker.mlops.local.LocalPipelineSession.start_pipeline_execution": "c222c82266503601",
    "sagemaker.core.common_utils.resolve_value_from_config": "99797dea4878bb85",
}


# --------------------------------------------------------------------------- changing the SDK


def _install(owner: Any, name: str, replacement: Callable[..., Any]) -> None:
    if inspect.isclass(owner):
        static = isinstance(inspect.getattr_static(owner, name), staticmethod)
        # type.__setattr__: pydantic's metaclass treats underscore names as private fields.
        type.__setattr__(owner, name, staticmethod(replacement) if static else replacement)
    else:
        setattr(owner, name, replacement)


def _wrapped(original: Callable[..., Any], make_wrapper: Wrapper, mark: str) -> Callable[..., Any]:
    wrapper = functools.update_wrapper(make_wrapper(original), original)
    setattr(wrapper, mark, True)
    return wrapper


def wrap(hook: Hook, make_wrapper: Wrapper, *, mark: str) -> None:
    """Replace the hooked function with `make_wrapper(original)` for the process, once.

    `mark` names the change: a second call with the same mark does nothing (wrappers copy
    the marks of what they wrap, so several changes can stack on one SDK function).
    """
    with _lock:
        owner, name, original = hook.target()
        if not getattr(original, mark, False):
            _install(owner, name, _wrapped(original, make_wrapper, mark))


@contextlib.contextmanager
def patched(hook: Hook, make_wrapper: Wrapper) -> Iterator[None]:
    """Replace the hooked function with `make_wrapper(original)` inside the block only."""
    owner, name, original = hook.target()
    saved = inspect.getattr_static(owner, name)
    with _lock:
        _install(owner, name, _wrapped(original, make_wrapper, "_mlmax_patched"))
    try:
        yield
    finally:
        with _lock:
            if inspect.isclass(owner):
                type.__setattr__(owner, name, saved)
            else:
                setattr(owner, name, saved)


# --------------------------------------------------------------------------- reading the SDK


def latest_training_job_name(trainer: Any) -> str:
    """The name SageMaker gave the job of a `ModelTrainer.train(wait=False)`."""
    LATEST_TRAINING_JOB.check()
    return str(trainer._latest_training_job.training_job_name)


def release_trainer_temp_dir(step_args: Any) -> None:
    """Remove the temp dir of the trainer behind a pipeline TrainingStep's `step_args`."""
    STEP_ARGUMENTS.check()
    TRAINER_TEMP_CODE_DIR.check()
    trainer = step_args.func_args[0]
    if trainer._temp_code_dir is not None:
        trainer._temp_code_dir.cleanup()


def step_call_arguments(step_args: Any) -> dict[str, Any]:
    """The arguments, by name, of the SDK call a pipeline step was captured from (a
    processor's `run`: code, source_dir, ...; a trainer's `train`: self is the trainer)."""
    STEP_ARGUMENTS.check()
    function = inspect.unwrap(step_args.func)
    bound = inspect.signature(function).bind_partial(*step_args.func_args, **step_args.func_kwargs)
    return dict(bound.arguments)


def executed_pipeline(executor: Any) -> Any:
    """The Pipeline a local pipeline executor runs, its steps as the project built them (the
    executor's own steps are compiled copies, without the SDK call they were captured from)."""
    PIPELINE_STEP_EXECUTION.check()
    return executor.execution.pipeline


def role_from_sdk_config(session: Any) -> str | None:
    """The training job role the SDK config file names (SageMaker.TrainingJob.RoleArn)."""
    resolve = ROLE_FROM_CONFIG[0].target()[2]
    path = ROLE_FROM_CONFIG[1].target()[2]
    role = resolve(None, path, sagemaker_session=session)
    return str(role) if role else None


def role_validation_error() -> type[BaseException]:
    """The exception the SDK raises when IAM says the execution role cannot run a job."""
    error: type[BaseException] = ROLE_VALIDATION_ERROR.target()[2]
    return error


@functools.cache
def offline_pipeline_session_class() -> type:
    """A local pipeline session that also captures steps like a PipelineSession.

    `sagemaker.core`'s LocalPipelineSession captures steps but its client has no pipeline
    API; `sagemaker.mlops.local`'s has the pipeline API on the session but is no
    PipelineSession, so building a step would run the job at once. One class is both (MRO
    mlops -> LocalSession -> PipelineSession); `forward_pipeline_calls` does the rest.
    """
    for hook in LOCAL_PIPELINE_SESSION_CALLS:
        hook.check()
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.local import LocalPipelineSession

    class OfflinePipelineSession(LocalPipelineSession, PipelineSession):
        """Captures steps like a PipelineSession; creates and runs pipelines locally."""

    return OfflinePipelineSession


def forward_pipeline_calls(session: Any) -> None:
    """Point the pipeline calls `Pipeline.create/start/...` make on the session's client at
    the session's own methods (the SDK's local client lacks all five)."""
    for call in PIPELINE_CALLS:
        setattr(session.sagemaker_client, call, getattr(session, call))


def pipeline_executor_logger() -> str:
    """The logger the local pipeline executor writes its step start/end lines to."""
    return PIPELINE_EXECUTOR_LOG.module

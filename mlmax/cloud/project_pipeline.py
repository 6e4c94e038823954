"""A SageMaker Pipeline run by the SDK's local pipeline session offline: the one path.

A project builds its `Pipeline` with the SDK's workflow classes on the session of a
`LocalRun` (`project_pipeline_session(run)`: `run.sdk_session(pipeline=True)` with the
environment pinned to the offline session's keys): every step's container carries the run's
labels and goes when the run ends. `run_project_pipeline` creates the pipeline in that
session and starts one execution as the run's SDK call (`execute_pipeline`, with its deadline
and Ctrl-C handling), reads each step back (`step_outcomes`) and raises
`PipelineStepFailedError` when a step failed: its name, its one sentence (the step's
FailureReason) and its container's log tail. `sm_pipeline_session`, `mlmax pipeline run` and
the census sample's exported pipeline (`local_pipeline`) all run this way.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlmax.common import Progress, UsageError
from mlmax.localmode.errors import JobTimeoutError, LocalModeError, tail
from mlmax.localmode.run import LocalRun
from mlmax.localmode.sdk import pipeline_executor_logger, scoped_environ, sdk_output_to

SUCCEEDED = "Succeeded"
# Local Mode assumes no role, but the pipeline builders want the shape of one.
LOCAL_ROLE = "arn:aws:iam::000000000000:role/mlmax-local-pipeline"


@dataclass(frozen=True)
class StepOutcome:
    """One step of the execution as the SDK recorded it."""

    name: str
    status: str
    failure_reason: str | None = None
    seconds: float | None = None
    # FailStep: the error message it raised; ConditionStep: its outcome.
    detail: str | None = None


def step_outcomes(execution: Any) -> tuple[StepOutcome, ...]:
    outcomes = []
    for step in execution.list_steps()["PipelineExecutionSteps"]:
        metadata = step.get("Metadata") or {}
        detail = None
        if "Fail" in metadata:
            detail = str(metadata["Fail"].get("ErrorMessage"))
        elif "Condition" in metadata:
            detail = f"outcome {metadata['Condition'].get('Outcome')}"
        start, end = step.get("StartTime"), step.get("EndTime")
        outcomes.append(
            StepOutcome(
                name=step["StepName"],
                status=step["StepStatus"],
                failure_reason=step.get("FailureReason"),
                seconds=end - start if start is not None and end is not None else None,
                detail=detail,
            )
        )
    return tuple(outcomes)


@dataclass(frozen=True)
class ProjectPipelineRun:
    """One execution of a project's pipeline, as the SDK recorded it."""

    pipeline: str
    execution: Any  # the SDK's execution object (describe(), list_steps())
    execution_arn: str
    status: str
    failure_reason: str | None
    steps: tuple[StepOutcome, ...]
    logs: str  # every container of the execution, oldest first

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def step(self, name: str) -> StepOutcome:
        for outcome in self.steps:
            if outcome.name == name:
                return outcome
        raise KeyError(f"the execution has no step {name!r}; it ran {[s.name for s in self.steps]}")


class PipelineStepFailedError(LocalModeError):
    """A step of the project's pipeline failed; the message names it, why, and its log tail."""

    def __init__(self, result: ProjectPipelineRun, step: StepOutcome, step_logs: str) -> None:
        self.result = result
        self.step = step.name
        self.reason = step.failure_reason or step.detail or f"ended {step.status}"
        self.log_tail = tail(step_logs)
        shown = f"\n{self.log_tail}" if self.log_tail else ""
        super().__init__(
            f"step {step.name!r} of pipeline {result.pipeline!r} failed: {self.reason}; fix the "
            f"step's script or its inputs and run it again (last lines of its container log "
            f"below){shown}"
        )


def step_names(pipeline: Any) -> list[str]:
    """Every step of `pipeline`, those inside a condition's branches too, in its order."""
    from sagemaker.mlops.workflow.pipeline import PipelineGraph

    return list(PipelineGraph.from_pipeline(pipeline).step_map)


def check_step_name(pipeline: Any, name: str, option: str) -> None:
    """UsageError unless `name` (given with `option`) is a step of `pipeline`."""
    names = step_names(pipeline)
    if name not in names:
        raise UsageError(
            f"{option} {name!r} is not a step of pipeline {pipeline.name!r}; its steps are "
            f"{', '.join(names)}"
        )


@contextlib.contextmanager
def project_pipeline_session(run: LocalRun) -> Iterator[Any]:
    """The run's local pipeline session, for building and running a project's pipeline.

    The environment is pinned to the offline session's keys meanwhile, and roles are not
    validated: Local Mode assumes none, while the SDK's builders (ModelTrainer) ask IAM about
    the role they are given, which the embedded server does not serve.
    """
    sdk_root = run.root / "sdk"
    sdk_root.mkdir(exist_ok=True)
    with run.session.pinned(), scoped_environ({"SAGEMAKER_VALIDATE_ROLE": "false"}):
        yield run.sdk_session(sdk_root, pipeline=True)


class _ProgressFromLog(logging.Handler):
    """Forwards the executor's step start/end lines (it has no other progress hook)."""

    def __init__(self, say: Progress) -> None:
        super().__init__(logging.INFO)
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(("Starting pipeline step", "Pipeline step")):
            self._say(f"[pipeline] {message}")


@contextlib.contextmanager
def sdk_logging(say: Progress) -> Iterator[None]:
    """The executor's step lines become progress; the rest stays off the terminal: the SDK
    sets the root logger to INFO on import, logs every compose file and config lookup,
    warns that job names leave the definition (expected), and probes IAM on the embedded S3
    server (which lacks that API and logs a 500 for each probe). Each logger that speaks
    during a run is quieted by name and put back after; the root logger is left as it is."""
    # The SDK's executor logs each step's start and end there: turned into progress lines.
    executor = logging.getLogger(pipeline_executor_logger())
    quieted = {
        "sagemaker": logging.ERROR,
        "sagemaker.config": logging.ERROR,
        "botocore": logging.WARNING,
        "boto3": logging.WARNING,
        "s3transfer": logging.WARNING,
        "urllib3": logging.WARNING,
        "docker": logging.WARNING,
        "werkzeug": logging.CRITICAL,
        "mlmax": logging.WARNING,
    }
    handler = _ProgressFromLog(say)
    saved_executor = (executor.level, executor.propagate)
    saved = {name: logging.getLogger(name).level for name in quieted}
    executor.addHandler(handler)
    executor.setLevel(logging.INFO)
    executor.propagate = False
    for name, level in quieted.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        executor.removeHandler(handler)
        executor.setLevel(saved_executor[0])
        executor.propagate = saved_executor[1]
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def quiet_sdk(progress: Callable[[str], None]) -> Iterator[None]:
    """For a command: the executor's step lines become `progress`, the SDK's other output
    (its compose lines, its logging, its PipelineSession warning) stays off the terminal;
    the containers' log tail comes with a failure."""
    with sdk_logging(progress), sdk_output_to(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Running within a PipelineSession", UserWarning)
        yield


def run_project_pipeline(
    run: LocalRun,
    pipeline: Any,
    parameters: Mapping[str, str | float] | None = None,
    *,
    timeout: float | None = None,
    check: bool = True,
) -> ProjectPipelineRun:
    """Create `pipeline` (built on `run`'s pipeline session) and run one execution.

    Call inside `project_pipeline_session(run)`. With `check` (the default) a failed execution
    raises `PipelineStepFailedError` naming its failed step; otherwise it is returned.
    A timeout stops the run and raises `JobTimeoutError` with the containers' log tail.
    """
    pipeline.create(role_arn=LOCAL_ROLE, description="run locally by mlmax")
    execution = execute_pipeline(run, pipeline, dict(parameters or {}), timeout)
    description = execution.describe()
    ran = run.containers()
    result = ProjectPipelineRun(
        pipeline=pipeline.name,
        execution=execution,
        execution_arn=description["PipelineExecutionArn"],
        status=description["PipelineExecutionStatus"],
        failure_reason=description.get("FailureReason"),
        steps=step_outcomes(execution),
        logs=run.logs(ran),
    )
    if check and not result.succeeded:
        failed = [s for s in result.steps if s.status == "Failed"]
        # No failed step recorded (e.g. the definition was refused): the execution's reason.
        step = failed[0] if failed else StepOutcome(pipeline.name, "Failed", result.failure_reason)
        raise PipelineStepFailedError(result, step, _failed_container_logs(run, ran))
    return result


def execute_pipeline(
    run: LocalRun, pipeline: Any, values: Mapping[str, str | float], timeout: float | None
) -> Any:
    """`pipeline.start()` as the run's SDK call, waited for here with a deadline."""
    result: list[Any] = []
    thread = run.start_sdk_call(lambda: result.append(pipeline.start(parameters=values)))
    if not run.wait_sdk_call(thread, timeout):
        logs = run.logs()
        run.stop(thread)
        raise JobTimeoutError(pipeline.name, float(timeout or 0), logs)
    if thread.error is not None:
        raise thread.error
    return result[0]


def _failed_container_logs(run: LocalRun, ran: list[Any]) -> str:
    """The log of the last container that exited non-zero (the failed step's: the executor
    stops at the first failure), else of the last container."""
    failed = [c for c in ran if any(code != 0 for code in run.exit_codes([c]))]
    last = failed[-1:] or ran[-1:]
    return run.logs(last) if last else ""

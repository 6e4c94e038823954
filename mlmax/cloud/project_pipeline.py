"""A project's own SageMaker Pipeline, run by the SDK's local pipeline session offline.

The project builds its `Pipeline` with the SDK's workflow classes on the session of a
`LocalRun` (`run.sdk_session(pipeline=True)`): every step's container carries the run's
labels and goes when the run ends. `run_project_pipeline` creates the pipeline in that
session and starts one execution the way the census pipeline's local run does
(`local_pipeline.execute_pipeline`, with its deadline and Ctrl-C handling), reads each step
back (`local_pipeline.step_outcomes`) and raises `PipelineStepFailedError` when a step
failed: its name, its one sentence (the step's FailureReason) and its container's log tail.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlmax.cloud.local_pipeline import (
    LOCAL_ROLE,
    StepOutcome,
    _sdk_logging,
    execute_pipeline,
    step_outcomes,
)
from mlmax.common import UsageError
from mlmax.localmode.errors import LocalModeError, tail
from mlmax.localmode.run import LocalRun
from mlmax.localmode.sdk import scoped_environ

SUCCEEDED = "Succeeded"


@dataclass(frozen=True)
class ProjectPipelineRun:
    """One execution of a project's pipeline, as the SDK recorded it."""

    pipeline: str
    execution: Any  # the SDK's execution object (describe(), list_steps())
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


@contextlib.contextmanager
def quiet_sdk(progress: Callable[[str], None]) -> Iterator[None]:
    """For a command: the executor's step lines become `progress`, the SDK's other output
    (its compose lines on stdout, its logging, its PipelineSession warning) stays off the
    terminal, as for the census pipeline's local run; the log tail comes with a failure."""
    with (
        _sdk_logging(progress),
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
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


def _failed_container_logs(run: LocalRun, ran: list[Any]) -> str:
    """The log of the last container that exited non-zero (the failed step's: the executor
    stops at the first failure), else of the last container."""
    failed = [c for c in ran if any(code != 0 for code in run.exit_codes([c]))]
    last = failed[-1:] or ran[-1:]
    return run.logs(last) if last else ""

"""`sm_pipeline_session`: the offline local pipeline session for a project's own Pipeline.

A project builds its SageMaker Pipeline with the SDK's workflow classes (processors and
trainers given `sagemaker_session=sm_pipeline_session`, steps, `Pipeline(...,
sagemaker_session=sm_pipeline_session)`) and runs it locally and offline:

    execution = sm_pipeline_session.run(build(sm_pipeline_session), parameters={...})

The session is the SDK's local pipeline session on the embedded S3 (the test's environment
pinned to its keys, as `sm_session`'s is); every step's container carries this test's labels
and is removed after the test, with the session's directories. `run` creates the pipeline,
starts one execution and returns it once it succeeded; a failed step raises
`PipelineStepFailedError`: the test fails with the step's name, its FailureReason and the
log tail of its container. `pipeline.create()` and `pipeline.start()` work too, unchecked.

Under `--inspectlocal` (or VS Code's Debug Test) each step's script runs under debugpy in its
container, or only the step `--inspect-job STEP` names (`localmode.run.step_debug`), and the
run has no deadline; an `--inspect-job` that is neither a declared job nor a step of the
pipeline fails the test with one sentence listing the pipeline's steps.

Loaded by mlmax.pytest_plugin.plugin (`pytest_plugins`), like `sm_session`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import pytest

from mlmax.pytest_plugin.debugger import Debugger, debugger_of
from mlmax.pytest_plugin.report import report_logs_on_failure


@pytest.fixture
def sm_pipeline_session(sm_localmode: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The SDK's local pipeline session on the embedded S3, with `run(pipeline, parameters)`."""
    from mlmax.cloud import project_pipeline_session, run_project_pipeline
    from mlmax.localmode.run import LocalRun

    offline = sm_localmode.session
    timeout = request.config.getoption("--sm-timeout")
    debugger = debugger_of(request.config)
    with LocalRun(offline, f"pipeline:{request.node.name}", id_prefix="pipeline") as run:
        report_logs_on_failure(request, "sm_pipeline_session", run.run_id)
        with project_pipeline_session(run) as session, _steps_debugging(debugger, run.job):

            def run_pipeline(
                pipeline: Any, parameters: Mapping[str, str | float] | None = None
            ) -> Any:
                """Create `pipeline`, run one execution and return it; a failed step fails."""
                if debugger is not None:
                    _check_inspected_step(request.config, pipeline)
                # A person at a breakpoint takes as long as they take.
                deadline = None if debugger is not None else timeout
                return run_project_pipeline(run, pipeline, parameters, timeout=deadline).execution

            # The SDK's session itself (its steps check for a PipelineSession), given one
            # method of mlmax's; the SDK's session classes have no `run` of their own.
            assert not hasattr(session, "run"), "the SDK's pipeline session has its own run"
            session.run = run_pipeline
            yield session


def _steps_debugging(debugger: Debugger | None, job: str) -> AbstractContextManager[None]:
    """Under inspect mode or Debug Test, the steps the debugger answers for run under it."""
    if debugger is None:
        return contextlib.nullcontext()
    from mlmax.localmode.run import pipeline_steps_under_debugger

    return pipeline_steps_under_debugger(debugger.step_debugging, job=job)


def _check_inspected_step(config: pytest.Config, pipeline: Any) -> None:
    """--inspect-job names a declared job, the endpoint, or a step of this pipeline."""
    from mlmax.cloud import check_step_name
    from mlmax.project import get_job

    name = config.getoption("--inspect-job")
    if not name or name == "endpoint":
        return
    try:
        get_job(name)
    except KeyError:
        check_step_name(pipeline, name, "--inspect-job")

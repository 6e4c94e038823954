"""Run steps of a local SageMaker Pipeline under the debugger (inspect mode, Debug Test,
`mlmax pipeline run --debug-step`).

The SDK's local pipeline executor runs the steps itself, one at a time, each through the
local client's create_processing_job / create_training_job; mlmax starts none of those jobs.
So for the scope of `pipeline_steps_under_debugger` two of the executor's methods are
wrapped (through `mlmax.localmode.sdk.internals`, which pins them): its `_execute_step`,
around which a step the `StepPolicy` answers for gets what `debug_job` gives a job (the
forward on the host's 127.0.0.1, the ReadyWatch, the errors), and its
`evaluate_step_arguments`, whose request for that step comes back with the script under
debugpy (`debug.step_under_debugger`). The other steps run as they are.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmax.localmode.debug import (
    DEBUGGABLE_KINDS,
    INSPECT_FLAGS,
    DebugFlags,
    DebugOptions,
    InspectError,
    WatchedCall,
    step_under_debugger,
)
from mlmax.localmode.run.debug_run import JobDebugging
from mlmax.localmode.sdk import (
    PIPELINE_STEP_EXECUTION,
    PIPELINE_STEP_REQUEST,
    executed_pipeline,
    patched,
    step_call_arguments,
)


@dataclass(frozen=True)
class PipelineStep:
    """One step of a pipeline, as a debug policy sees it."""

    name: str
    kind: str  # "processing", "training", or another step type's name in lower case
    # The project's folder the step's container code root holds (None: not known, e.g. code
    # that is already in S3): where a debugger maps the container's paths to.
    code_dir: Path | None = None

    @property
    def debuggable(self) -> bool:
        return self.kind in DEBUGGABLE_KINDS


# Which steps run under the debugger, and how: None runs the step as usual.
StepPolicy = Callable[[PipelineStep], JobDebugging | None]


def pipeline_step(step: Any) -> PipelineStep:
    """The SDK's pipeline `step` (as the project built it) as a `PipelineStep`."""
    step_type = getattr(step, "step_type", None)
    kind = str(getattr(step_type, "value", step_type or "")).lower()
    return PipelineStep(step.name, kind, _code_dir(step, kind))


def _built_steps(steps: list[Any]) -> Iterator[Any]:
    """`steps` and the steps inside them (a condition's branches, a step collection's)."""
    for step in steps:
        yield step
        inside = [
            *(getattr(step, "if_steps", None) or []),
            *(getattr(step, "else_steps", None) or []),
            *(getattr(step, "steps", None) or []),
        ]
        yield from _built_steps(inside)


def _as_built(executor: Any, step: Any) -> Any:
    """The project's own step object behind the executor's compiled copy of it."""
    pipeline = executed_pipeline(executor)
    return next((s for s in _built_steps(pipeline.steps) if s.name == step.name), step)


def _code_dir(step: Any, kind: str) -> Path | None:
    step_args = getattr(step, "step_args", None)
    if step_args is None or kind not in DEBUGGABLE_KINDS:
        return None
    arguments = step_call_arguments(step_args)
    if kind == "training":
        source = getattr(arguments.get("self"), "source_code", None)
        folder = getattr(source, "source_dir", None)
        return _local_dir(folder)
    # A FrameworkProcessor's source_dir, or the folder of a ScriptProcessor's code file.
    folder = _local_dir(arguments.get("source_dir"))
    code = arguments.get("code")
    if folder is None and isinstance(code, str) and Path(code).is_file():
        folder = Path(code).resolve().parent
    return folder


def _local_dir(location: Any) -> Path | None:
    if isinstance(location, str) and Path(location).is_dir():
        return Path(location).resolve()
    return None


class _StepDebugger:
    """The two wrappers of the executor's methods, sharing the step under the debugger."""

    def __init__(self, policy: StepPolicy, job: str, flags: DebugFlags) -> None:
        self.policy = policy
        self.job = job
        self.flags = flags
        self.running: dict[str, tuple[PipelineStep, DebugOptions]] = {}

    def execute_step(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def _execute_step(executor: Any, step: Any) -> Any:
            described = pipeline_step(_as_built(executor, step))
            debugging = self.policy(described) if described.debuggable else None
            if debugging is None:
                return original(executor, step)
            return self._watched(described, debugging, lambda: original(executor, step))

        return _execute_step

    def _watched(
        self, step: PipelineStep, debugging: JobDebugging, execute: Callable[[], Any]
    ) -> Any:
        watched = WatchedCall(
            debugging.port,
            debugging.wait_timeout,
            debugging.on_ready,
            self.flags,
            debugging.grace,
            debugging.on_grace,
        )
        options = DebugOptions(code_alias=None)  # the user maps the code root themselves
        self.running[step.name] = (step, options)
        try:
            return watched.run(
                execute, job=step.name, kind=step.kind, options=options, label=self.job
            )
        finally:
            self.running.pop(step.name, None)

    def step_request(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def evaluate_step_arguments(executor: Any, step: Any) -> Any:
            request = original(executor, step)
            if step.name not in self.running:
                return request
            described, options = self.running[step.name]
            changed = step_under_debugger(request, described.kind, options)
            if changed is None:
                raise InspectError(
                    f"step {step.name!r} runs its image's own command, which mlmax cannot put "
                    "under debugpy; give its processor or trainer a Python script"
                )
            return changed

        return evaluate_step_arguments


@contextlib.contextmanager
def pipeline_steps_under_debugger(
    policy: StepPolicy, *, job: str, flags: DebugFlags = INSPECT_FLAGS
) -> Iterator[None]:
    """For this scope, the local pipeline steps `policy` answers for run under debugpy.

    `job` is the JOB label of the pipeline run's containers (its `LocalRun`'s): the watch
    finds a step's container by it. One pipeline runs at a time in the scope (inspect mode
    inspects one test, the command runs one pipeline), so the executor is patched only for
    its duration, as `debug.sdk_objects_under_debugger` patches the SDK's job classes.
    """
    debugger = _StepDebugger(policy, job, flags)
    with (
        patched(PIPELINE_STEP_EXECUTION, debugger.execute_step),
        patched(PIPELINE_STEP_REQUEST, debugger.step_request),
    ):
        yield

"""`mlmax pipeline run MODULE:FUNCTION`: a project's own SageMaker Pipeline, run locally.

FUNCTION takes the SDK's local pipeline session (mlmax's offline one: embedded S3, labelled
containers) and returns the project's `Pipeline`; one execution runs and its steps are
printed as a table. A failed step exits 1 with its sentence and its container's log tail;
a MODULE:FUNCTION that cannot be used exits 2 with one sentence. `--debug-step STEP` runs
that step's script under debugpy in its container, reachable on the host's 127.0.0.1
(`--debug-port`), and prints the same ready line as `mlmax debug`; a STEP the pipeline does
not have exits 2 with one sentence listing its steps.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmax.cli.common import (
    EXIT_OK,
    non_negative_float,
    port_number,
    positive_int,
    print_pipeline_steps,
    progress,
)
from mlmax.common import MlmaxError, ProjectCodeError, UsageError
from mlmax.localmode.debug import DEFAULT_INSPECT_PORT, DEFAULT_WAIT_TIMEOUT, DebugFlags

if TYPE_CHECKING:
    from mlmax.cli.common import Commands
    from mlmax.cloud import ProjectPipelineRun
    from mlmax.localmode.debug import ReadyInfo
    from mlmax.localmode.run import JobDebugging, PipelineStep

DEFAULT_TIMEOUT = 3600
# The debug options' names, as `mlmax serve` (--debug-port) and `mlmax debug` (--wait-timeout)
# name them; the debugger's messages say these.
STEP_DEBUG_FLAGS = DebugFlags(port="--debug-port", wait="--wait-timeout")


def register(verbs: Commands) -> None:
    run = verbs.add_parser(
        "run",
        help="run your own SageMaker Pipeline locally: MODULE:FUNCTION returns it",
        description="Build your project's SageMaker Pipeline with FUNCTION(session) from "
        "MODULE (imported from the current directory or the environment) on mlmax's offline "
        "local pipeline session, run one execution in Local Mode containers and print its "
        "steps.",
    )
    run.add_argument("target", metavar="MODULE:FUNCTION", help="e.g. myproject.pipeline:build")
    run.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an execution parameter of the pipeline, e.g. InstanceType=local (repeat for more)",
    )
    run.add_argument(
        "--timeout",
        type=positive_int,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"stop the execution after this long (default {DEFAULT_TIMEOUT}; not while "
        "--debug-step waits for a debugger or at a breakpoint)",
    )
    run.add_argument(
        "--debug-step",
        metavar="STEP",
        help="run this step's script under debugpy in its container and wait for a debugger "
        "(VS Code: 'Attach to Local Mode container', its code root mapped to your script's "
        "folder); the other steps run as usual",
    )
    run.add_argument(
        "--debug-port",
        type=port_number,
        default=DEFAULT_INSPECT_PORT,
        metavar="PORT",
        help=f"host port on 127.0.0.1 for --debug-step's debugger (default "
        f"{DEFAULT_INSPECT_PORT}; 0 = a free one)",
    )
    run.add_argument(
        "--wait-timeout",
        type=non_negative_float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --debug-step waits for a debugger to attach (default "
        f"{DEFAULT_WAIT_TIMEOUT:g})",
    )
    run.set_defaults(handler=run_project)


def builder(target: str) -> Callable[[Any], Any]:
    """The FUNCTION of MODULE:FUNCTION; UsageError naming what is wrong."""
    module_name, colon, function_name = target.partition(":")
    if not colon or not module_name or not function_name:
        raise UsageError(
            f"{target!r} is not MODULE:FUNCTION; name the function that returns your "
            "pipeline, e.g. myproject.pipeline:build"
        )
    # As `python -m` does: the current directory's modules first.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise ProjectCodeError.raised_by(f"importing {module_name}", error) from None
        raise UsageError(
            f"module {module_name!r} was not found; run from your project's directory or "
            "install it (pip install -e .), or set PYTHONPATH to where it is"
        ) from None
    except Exception as error:  # the project's module itself fails: its lines, not ours
        raise ProjectCodeError.raised_by(f"importing {module_name}", error) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UsageError(
            f"module {module_name!r} has no function {function_name!r}; name the function "
            "that takes the session and returns your Pipeline"
        )
    return function


def parameter_values(pipeline: Any, pairs: list[str]) -> dict[str, str | float]:
    """NAME=VALUE pairs as the pipeline's parameters want them (a ParameterInteger an int)."""
    declared = {p.name: p for p in getattr(pipeline, "parameters", None) or []}
    values: dict[str, str | float] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or name not in declared:
            raise UsageError(
                f"--parameter {pair!r} is not NAME=VALUE of a parameter of the pipeline; "
                f"its parameters are {', '.join(sorted(declared)) or 'none'}"
            )
        kind = declared[name].parameter_type.python_type
        values[name] = _typed(name, kind, text)
    return values


_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _typed(name: str, kind: type, text: str) -> str | float:
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise UsageError(f"--parameter {name} wants true or false, not {text!r}; give one")
        return text.lower() == "true"
    try:
        return kind(text)
    except ValueError:
        raise UsageError(
            f"--parameter {name} wants {_KINDS.get(kind, kind.__name__)}, not {text!r}; give one"
        ) from None


def run_project(args: argparse.Namespace) -> int:
    from mlmax.cloud import (
        PipelineStepFailedError,
        check_step_name,
        project_pipeline_session,
        quiet_sdk,
        run_project_pipeline,
    )
    from mlmax.localmode.image import project_default_image
    from mlmax.localmode.run import LocalMode, LocalRun

    function = builder(args.target)  # before any container work: a typo costs nothing
    if args.debug_step is not None:
        from mlmax.localmode.debug import resolve_host_port

        args.debug_port = resolve_host_port(args.debug_port, STEP_DEBUG_FLAGS)
    image = project_default_image(Path.cwd(), progress=progress)
    failure: PipelineStepFailedError | None = None
    # The table is printed after quiet_sdk, which keeps the SDK's own stdout off the terminal.
    with LocalMode(image=image) as local, quiet_sdk(progress):
        assert local.session is not None
        with LocalRun(local.session, "pipeline-run") as run, project_pipeline_session(run) as s:
            try:
                pipeline = function(s)
            except MlmaxError:
                raise
            except Exception as error:  # the project's function: its lines, not mlmax's
                raise ProjectCodeError.raised_by(args.target, error) from None
            if not hasattr(pipeline, "start") or not hasattr(pipeline, "definition"):
                raise UsageError(
                    f"{args.target} returned {type(pipeline).__name__}, not a SageMaker "
                    "Pipeline; return the Pipeline built on the session it is given"
                )
            values = parameter_values(pipeline, args.parameter)
            if args.debug_step is not None:
                check_step_name(pipeline, args.debug_step, "--debug-step")
            progress(f"running pipeline {pipeline.name} locally (run {run.run_id})")
            started = time.monotonic()
            with _debugging(args, run.job):
                try:
                    timeout = None if args.debug_step is not None else args.timeout
                    result = run_project_pipeline(run, pipeline, values, timeout=timeout)
                except PipelineStepFailedError as failed:
                    failure, result = failed, failed.result
    _print(result, time.monotonic() - started)
    if failure is not None:
        raise failure
    return EXIT_OK


def _debugging(args: argparse.Namespace, job: str) -> Any:
    """With --debug-step, that step of the run (its containers labelled `job`) runs under
    debugpy."""
    import contextlib

    if args.debug_step is None:
        return contextlib.nullcontext()
    from mlmax.localmode.run import JobDebugging, pipeline_steps_under_debugger

    def announce(info: ReadyInfo) -> None:
        # The same line as `mlmax debug` and `pytest --inspectlocal`: tools key on it.
        print(info.line, flush=True)

    def policy(step: PipelineStep) -> JobDebugging | None:
        if step.name != args.debug_step:
            return None
        return JobDebugging(port=args.debug_port, wait_timeout=args.wait_timeout, on_ready=announce)

    return pipeline_steps_under_debugger(policy, job=job, flags=STEP_DEBUG_FLAGS)


def _print(result: ProjectPipelineRun, seconds: float) -> None:
    print_pipeline_steps(result.steps, result.status, seconds)

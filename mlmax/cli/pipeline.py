"""`mlmax pipeline`: run every job chained, print a table of the steps, point at the report.

The pipeline is the census sample's (`mlmax_census.pipeline`, reached by name through
`mlmax.project.load_sample`: the tool imports no sample code). `mlmax pipeline export` is
its subcommand (mlmax.cli.pipeline_export), `mlmax pipeline run` runs a project's own.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmax.cli import pipeline_export, pipeline_run
from mlmax.cli.clean import sweep_killed_sessions
from mlmax.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    StepRow,
    error,
    non_negative_float,
    positive_int,
    print_pipeline_steps,
    print_steps,
    progress,
)
from mlmax.common import MlmaxError, UsageError

if TYPE_CHECKING:
    from mlmax.cli.common import Commands
    from mlmax.pipeline import StepListener, StepRecord

# Not a per-step runner: the exported SageMaker Pipeline runs as a whole in the SDK's local
# pipeline session (mlmax.cloud.local_pipeline).
LOCAL_PIPELINE = "local-pipeline"
# The sample's (mlmax_census.pipeline), written here because importing it to build the parser
# would slow every `mlmax` start and need the census extra; tests/cli checks they agree.
MODEL_TYPES = ("logistic_regression", "random_forest", "gradient_boosting")
DEFAULT_NEW_DATA_DRIFT = 1.0


def register(commands: Commands) -> None:
    pipeline = commands.add_parser(
        "pipeline",
        help="run every job chained and write a report",
        description="Run preprocessing, training, evaluation, batch inference and monitoring "
        "chained, and write a run directory with every output and a report.",
    )
    pipeline.add_argument(
        "--runner",
        choices=("local", "host", "sagemaker", LOCAL_PIPELINE),
        default="local",
        help="local: SageMaker Local Mode containers (default); host: the "
        "same scripts as host processes (fastest, no Docker); sagemaker: managed jobs "
        "(role, bucket, image from MLMAX_SAGEMAKER_ROLE/_BUCKET/_IMAGE); local-pipeline: "
        "the exported SageMaker Pipeline run by the SDK's local pipeline session",
    )
    pipeline.add_argument(
        "--rows", type=positive_int, default=5000, help="rows of generated data (default 5000)"
    )
    pipeline.add_argument(
        "--seed", type=int, default=42, help="seed of data and model (default 42)"
    )
    pipeline.add_argument(
        "--input",
        type=Path,
        metavar="FILE",
        help="your training CSV (census columns with income) instead of generated data",
    )
    pipeline.add_argument(
        "--new-data",
        type=Path,
        metavar="FILE",
        help="new data to score and check for drift (default: generated with "
        "seed+1 and --drift, or --input itself)",
    )
    pipeline.add_argument(
        "--drift",
        type=non_negative_float,
        default=DEFAULT_NEW_DATA_DRIFT,
        help=f"drift of the generated new data (default {DEFAULT_NEW_DATA_DRIFT:g})",
    )
    pipeline.add_argument(
        "--model-type",
        choices=MODEL_TYPES,
        default="logistic_regression",
        help="the model to train (default logistic_regression)",
    )
    pipeline.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="run directory (new or empty; default runs/<time>-<id>)",
    )
    pipeline.add_argument(
        "--instance-type",
        type=instance_type,
        action="append",
        default=[],
        metavar="JOB=ml.TYPE",
        help="with --runner sagemaker: the instance type of one job, e.g. train=ml.m5.2xlarge "
        "(repeat for more jobs; the others run on the defaults)",
    )
    pipeline.add_argument(
        "--endpoint",
        action="store_true",
        help="afterwards, serve the model as a real-time endpoint in its container, send it "
        "the new data and check it predicts what batch inference did",
    )
    pipeline.set_defaults(handler=run_pipeline)
    # `mlmax pipeline` alone runs the pipeline; `mlmax pipeline export` is a verb under it.
    verbs = pipeline.add_subparsers(
        dest="pipeline_command",
        metavar="ACTION",
        title="actions",
        description="without one, the pipeline runs",
    )
    pipeline_export.register(verbs)
    pipeline_run.register(verbs)


def instance_type(text: str) -> tuple[str, str]:
    """`--instance-type JOB=ml.TYPE`, checked as argparse reads it (exit 2 with one line)."""
    from mlmax.cloud import SageMakerConfigError, parse_instance_type

    try:
        return parse_instance_type(text)
    except SageMakerConfigError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def _check_inputs(args: argparse.Namespace) -> None:
    """The user's files and the generated rows, before anything is created: UsageError."""
    from mlmax.project import load_sample

    census = load_sample("pipeline")
    if args.endpoint and args.runner not in ("local", "host"):
        raise UsageError(
            f"--endpoint runs after the local or host runner, not {args.runner}; drop "
            "--endpoint or use --runner local"
        )
    if args.instance_type and args.runner != "sagemaker":
        raise UsageError(
            f"--instance-type chooses managed instances, which the {args.runner} runner does "
            "not use; drop it or use --runner sagemaker"
        )
    if args.input is not None:
        census.validate_data_file(args.input, labels_required=True)
    if args.new_data is not None:
        census.validate_data_file(args.new_data, labels_required=False)
    if args.input is None:  # the data is generated: refuse what cannot fit in memory
        too_many = load_sample("data.memory").rows_too_many_for_memory(args.rows)
        if too_many:
            raise UsageError(too_many)


def _on_step(runner: str) -> StepListener:
    from mlmax.project import load_sample

    headline = load_sample("pipeline").headline

    def on_step(step: StepRecord, index: int, total: int, finished: bool) -> None:
        if not finished:
            progress(f"[{index}/{total}] {step.name}: running on the {runner} runner")
        elif step.status == "succeeded":
            metrics = headline(step.job, step.metrics)
            progress(
                f"[{index}/{total}] {step.name}: ✓ {step.duration_seconds:.1f} s"
                + (f"  {metrics}" if metrics else "")
            )
        else:
            progress(f"[{index}/{total}] {step.name}: ✗ {step.error}")

    return on_step


def _open_run_dir(output: Path | None, data: Any) -> Path:
    """Called once the runner is ready: Docker down must not leave an empty run directory."""
    from mlmax.pipeline import prepare_run_dir

    run_dir = prepare_run_dir(output)
    progress(f"Run directory: {run_dir}")
    for name, source in data.describe().items():
        progress(f"  {name}: {source}")
    return run_dir


def run_pipeline(args: argparse.Namespace) -> int:
    from mlmax.common import CENSUS_JOBS, CENSUS_REPORT, require_extra

    # The host runner runs the jobs on this Python; every runner reads the data and reports.
    needed = (*CENSUS_REPORT, *CENSUS_JOBS) if args.runner == "host" else CENSUS_REPORT
    require_extra("census", f"`mlmax pipeline --runner {args.runner}`", needed)
    if args.runner == LOCAL_PIPELINE:
        require_extra("pipelines", f"`mlmax pipeline --runner {LOCAL_PIPELINE}`")
    from mlmax.project import load_sample
    from mlmax.runners import make_runner

    census = load_sample("pipeline")
    data = census.DataSpec(
        rows=args.rows,
        seed=args.seed,
        train_file=args.input,
        new_data_file=args.new_data,
        new_data_drift=args.drift,
    )
    options = census.TrainingOptions(model_type=args.model_type, seed=args.seed)
    _check_inputs(args)
    sweep_killed_sessions(args.output.parent if args.output else None)
    if args.runner == LOCAL_PIPELINE:
        from mlmax.localmode.engine import require_docker

        require_docker().close()
        return _run_local_pipeline(_open_run_dir(args.output, data), data, options)
    chosen = dict(args.instance_type)
    with make_runner(args.runner, progress=progress, instance_types=chosen) as runner:
        run_dir = _open_run_dir(args.output, data)
        record = census.run_census(
            runner,
            run_dir,
            data,
            options,
            on_step=_on_step(args.runner),
            write_report=load_sample("report").write_report,
        )
    steps: list[StepRow] = [
        (step.name, step.status, step.duration_seconds, census.headline(step.job, step.metrics))
        for step in record.steps
    ]
    status, seconds = record.status, record.duration_seconds or 0.0  # set once the run ends
    endpoint_failed = False
    if args.endpoint and record.status == "succeeded":
        row = _endpoint_step(run_dir)
        endpoint_failed = row[1] != "succeeded"
        steps.append(row)
        seconds += row[2] or 0.0
        status = "failed" if endpoint_failed else status
    print_steps(steps, status, seconds, "key metrics")
    print()
    if record.status != "succeeded":
        # A job that refused its input (its JobInputError, exit code 2) is the user's bad
        # input, as for every other command: its own sentence and exit code 2.
        refused = next((s for s in record.steps if s.status == "failed" and s.exit_code == 2), None)
        error(f"{refused.name}: {refused.error}" if refused else record.error or record.status)
        print(f"Run record: {run_dir / 'pipeline.json'} (no report: the run failed)")
        return EXIT_USAGE if refused else EXIT_FAILURE
    report = run_dir / (record.report or "report")
    print(f"Report: {report / 'report.md'}  (also {report / 'report.html'})")
    print(f"Run record: {run_dir / 'pipeline.json'}")
    if args.endpoint:
        print(f"Endpoint check: {run_dir / 'endpoint' / 'endpoint.json'}")
    return EXIT_FAILURE if endpoint_failed else EXIT_OK


def _endpoint_step(run_dir: Path) -> StepRow:
    """`--endpoint`: deploy the run's model, send the new data, check parity; a table row."""
    from mlmax.localmode.image import ensure_job_image
    from mlmax.project import load_sample

    run_endpoint_step = load_sample("pipeline").run_endpoint_step

    progress("[endpoint] deploying the model and sending the new data")
    started = time.monotonic()
    try:
        check = run_endpoint_step(
            run_dir, image=ensure_job_image(progress=progress), progress=progress
        )
    except MlmaxError as failure:  # the endpoint's failure is a row of the table
        first_line = str(failure).splitlines()[0]
        progress(f"[endpoint] ✗ {first_line}")
        return "endpoint", "failed", time.monotonic() - started, first_line
    status = "succeeded" if check.parity else "failed"
    progress(f"[endpoint] {'✓' if check.parity else '✗'} {check.summary()}")
    return "endpoint", status, time.monotonic() - started, check.summary()


def _run_local_pipeline(run_dir: Path, data: Any, options: Any) -> int:
    from mlmax.cloud import DEFINITION_FILE, EXECUTION_FILE, run_local_pipeline_into
    from mlmax.project import load_sample

    census = load_sample("pipeline")
    inputs = census.stage_inputs(run_dir, data)
    dag = census.census_pipeline(options)
    result = run_local_pipeline_into(run_dir, dag, inputs, progress=progress)
    print_pipeline_steps(result.steps, result.status, result.duration)
    metrics = (result.evaluation or {}).get("metrics", {})
    if metrics:
        print("evaluation: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())))
    print(f"Definition: {run_dir / DEFINITION_FILE}")
    print(f"Execution record: {run_dir / EXECUTION_FILE}")
    if not result.succeeded:
        error(result.failure_reason or f"the execution {result.status.lower()}")
        return EXIT_FAILURE
    return EXIT_OK

"""`mlmax run`: run one job on a runner and print its log and where its outputs went."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mlmax.cli.clean import sweep_killed_sessions
from mlmax.cli.common import EXIT_OK, progress
from mlmax.cli.job_args import add_job_run_arguments, job_run_from_args
from mlmax.common import UsageError

if TYPE_CHECKING:
    from mlmax.cli.common import Commands


def register(commands: Commands) -> None:
    run = commands.add_parser(
        "run",
        help="run one job",
        description="Run one catalogue job. Arguments after `--` go to the job script.",
        epilog="example: mlmax run monitoring --runner host --input baseline=train.csv "
        "--input data=new.csv --output monitoring=out -- --psi-threshold 0.1",
    )
    add_job_run_arguments(run)
    run.add_argument(
        "--memory",
        type=memory_size,
        default=None,
        metavar="SIZE",
        help="the job container's memory limit, e.g. 2g (local runner; default: the memory "
        "of the job's declared instance_type, else no limit)",
    )
    run.set_defaults(handler=run_job)


def memory_size(text: str) -> str:
    """`--memory 2g`, checked as argparse reads it (exit 2 with one line)."""
    from mlmax.project import MemorySizeError, parse_memory

    try:
        parse_memory(text)
    except MemorySizeError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None
    return text


def run_job(args: argparse.Namespace) -> int:
    from mlmax.runners import make_runner

    job_run = job_run_from_args(args)
    if args.runner == "local":
        sweep_killed_sessions(None)
    elif args.memory is not None:
        raise UsageError(
            f"--memory limits a job's container, but the {args.runner} runner has none; "
            "drop --memory or use --runner local"
        )
    progress(f"Running {job_run.job.name} on the {args.runner} runner")
    # A failing job raises StepFailed: mlmax.cli.main prints its log tail, or its own
    # `error:` sentence with exit code 2 when it refused its input.
    with make_runner(args.runner, progress=progress, memory=args.memory) as runner:
        result = runner.run_step(job_run)
    sys.stdout.write(
        result.log if result.log.endswith("\n") or not result.log else result.log + "\n"
    )
    print(f"✓ {job_run.job.name} finished in {result.duration_seconds:.1f} s")
    for name, path in job_run.outputs.items():
        print(f"  output {name}: {path}")
    return EXIT_OK

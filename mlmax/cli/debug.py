"""`mlmax debug`: run one job in its container under debugpy and wait for a debugger."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlmax.cli.clean import sweep_killed_sessions
from mlmax.cli.common import EXIT_OK, port_number, progress
from mlmax.cli.job_args import add_job_run_arguments, job_run_from_args
from mlmax.localmode.debug import DEFAULT_INSPECT_PORT

if TYPE_CHECKING:
    from mlmax.cli.common import Commands
    from mlmax.localmode.debug import ReadyInfo, ReplInfo


def register(commands: Commands) -> None:
    debug = commands.add_parser(
        "debug",
        help="run one job in its container under debugpy and wait for a debugger",
        description="Run one job in its Local Mode container under debugpy, reachable only "
        "through a forward on the host's 127.0.0.1, and wait for a debugger (VS Code: "
        "'Attach to Local Mode container'). "
        "Prints 'debugpy listening on 127.0.0.1:PORT' once it can attach. Arguments after `--` "
        "go to the job script.",
        epilog="example: mlmax debug monitoring --input baseline=train.csv --input data=new.csv",
    )
    add_job_run_arguments(debug, runners=("local",))
    debug.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_INSPECT_PORT,
        help=f"host port on 127.0.0.1 for debugpy (default {DEFAULT_INSPECT_PORT}; 0 = a free one)",
    )
    debug.add_argument(
        "--wait-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for a debugger to attach (default 300)",
    )
    debug.add_argument("--image", help="run in this local image instead of mlmax's job image")
    debug.add_argument(
        "--repl",
        action="store_true",
        help="run the job with python -i instead and print the docker attach/exec commands",
    )
    debug.set_defaults(handler=run_debug)


def _announce(info: ReadyInfo | ReplInfo) -> None:
    from mlmax.localmode.debug import ReadyInfo

    # The same line as `pytest --inspectlocal`: VS Code tasks and scripts key on it.
    lines = [info.line] if isinstance(info, ReadyInfo) else info.lines
    for line in lines:
        print(line, flush=True)


def run_debug(args: argparse.Namespace) -> int:
    from mlmax.localmode.debug import DEBUG_COMMAND_FLAGS
    from mlmax.localmode.errors import JobFailedError
    from mlmax.localmode.image import image_for_job
    from mlmax.localmode.run import debug_job
    from mlmax.runners import StepFailed

    job_run = job_run_from_args(args)
    sweep_killed_sessions(None)
    image = image_for_job(job_run.job, override=args.image, progress=progress)
    try:
        result = debug_job(
            job_run,
            image=image,
            port=args.port,
            wait_timeout=args.wait_timeout,
            on_ready=_announce,
            mode="repl" if args.repl else "debugpy",
            progress=progress,
            flags=DEBUG_COMMAND_FLAGS,  # its messages name --port and --wait-timeout
        )
    except JobFailedError as error:
        # Told as `mlmax run` tells a failed job (its log tail, or its own `error:` sentence).
        raise StepFailed(job_run.job.name, error.exit_code, error.logs, reason="failed") from None
    print(f"✓ {job_run.job.name} finished in {result.duration:.1f} s")
    for name, path in job_run.outputs.items():
        print(f"  output {name}: {path}")
    return EXIT_OK

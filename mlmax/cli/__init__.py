"""The `mlmax` command: builds the parser from the command modules and runs the chosen one.

Each command is a module of this package with a `register(commands)` that adds its parser
and sets its handler; the work itself is done elsewhere in mlmax. Heavy imports (pandas,
the SageMaker SDK, docker) stay inside the handlers, so `mlmax --help` starts quickly.

Exit codes: 0 success, 1 a job, run or environment failure, 2 bad usage or bad input. An
`MlmaxError` is printed as one `error:` line here, in `main`, and nowhere else; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence

from mlmax.cli import clean, data, debug, doctor, image, pipeline, run, serve, vscode
from mlmax.cli.common import EXIT_FAILURE, EXIT_USAGE, Handler, error
from mlmax.common import (
    MlmaxError,
    exit_code_of,
    interruption_name,
    skip_the_last_collection,
    terminate_like_interrupt,
)
from mlmax.localmode.engine import skip_ssh_transport

__all__ = ["build_parser", "main"]

# In the order `mlmax --help` lists them.
COMMANDS = (pipeline, run, debug, serve, image, data, doctor, vscode, clean)
# The commands whose arguments after `--` go to a job script.
TAKE_JOB_ARGS = ("run", "debug")


def _verbs(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, str]]:
    """(`command verb`, help) of every subcommand under `parser`'s commands."""
    # argparse keeps the subcommands' help only in private attributes, read here alone.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                name = f"{prefix} {choice.dest}".strip()
                yield name, choice.help or ""
                yield from _verbs(action.choices[choice.dest], name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlmax",
        description="Run, test and debug SageMaker ML jobs on this machine,\nin the container "
        "they run in on SageMaker.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands)
    verbs = [(name, text) for name, text in _verbs(parser, "") if " " in name]
    width = max(len(name) for name, _ in verbs)
    parser.epilog = "subcommands:\n" + "\n".join(
        f"  {name.ljust(width)}  {text}" for name, text in verbs
    )
    return parser


def _split_job_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Everything after the first `--` belongs to the job script, not to mlmax."""
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    skip_the_last_collection()
    skip_ssh_transport()
    own, job_args = _split_job_args(list(sys.argv[1:] if argv is None else argv))
    try:
        args = build_parser().parse_args(own)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    if job_args and args.command not in TAKE_JOB_ARGS:
        error(f"`--` passes arguments to a job; `mlmax {args.command}` runs no single job")
        return EXIT_USAGE
    if job_args:
        args.job_args = job_args
    handler: Handler = args.handler
    try:
        with terminate_like_interrupt():  # SIGTERM, SIGHUP clean up as Ctrl-C does
            return handler(args)
    except MlmaxError as failure:  # the one place an MlmaxError becomes the command's output
        error(failure.sentence())
        return EXIT_USAGE if failure.is_usage_error() else EXIT_FAILURE
    except KeyboardInterrupt as interruption:
        error(f"interrupted ({interruption_name(interruption)})")
        return exit_code_of(interruption)

"""The arguments `mlmax run` and `mlmax debug` share: a job, its channels, the job's own args."""

from __future__ import annotations

import argparse
import contextlib
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from mlmax.common import UsageError

if TYPE_CHECKING:
    from mlmax.project import JobDefinition, JobRun


def add_job_run_arguments(
    parser: argparse.ArgumentParser, runners: tuple[str, ...] = ("local", "host", "sagemaker")
) -> None:
    parser.add_argument(
        "job",
        metavar="JOB",
        help="the job to run: one of mlmax's (preprocessing, preprocessing-infer, train, "
        "evaluation, inference, monitoring) or one declared in [tool.mlmax.jobs] of your "
        "pyproject.toml",
    )
    parser.add_argument(
        "--input",
        action="append",
        metavar="NAME=PATH",
        help="an input channel and its host file or directory (repeat)",
    )
    parser.add_argument(
        "--output",
        action="append",
        metavar="NAME=PATH",
        help="an output channel and its host directory (repeat; default: a new "
        "directory under runs/)",
    )
    parser.add_argument(
        "--runner",
        choices=runners,
        default="local",
        help="where the job runs (default: local = its SageMaker Local Mode container; "
        "sagemaker = a managed job, see `mlmax doctor --cloud`)",
    )
    # Filled by mlmax.cli.main from what follows `--`.
    parser.set_defaults(job_args=[])


def _channel_pairs(pairs: list[str] | None, what: str) -> dict[str, Path]:
    result: dict[str, Path] = {}
    for pair in pairs or []:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--{what} {pair!r} is not NAME=PATH; write e.g. --{what} data=DIR")
        if name in result:
            raise UsageError(f"--{what} {name} is given twice; give each channel once")
        result[name] = Path(path)
    return result


def _declared_job(name: str) -> JobDefinition:
    """The job named on the command line: mlmax's or one the project declares."""
    from mlmax.project import get_job

    try:
        return get_job(name)  # a bad declaration raises DeclarationError, a UsageError
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None


def _check_channels(job: JobDefinition, inputs: dict[str, Path], outputs: dict[str, Path]) -> None:
    for given, declared, kind in (
        (inputs, job.inputs, "input"),
        (outputs, job.outputs, "output"),
    ):
        known = {c.name for c in declared}
        for name in given:
            if name not in known:
                raise UsageError(
                    f"job {job.name} has no {kind} {name!r}; its {kind}s are: "
                    f"{', '.join(sorted(known))}"
                )
    missing = [c.name for c in job.inputs if c.name not in inputs]
    if missing:
        raise UsageError(
            f"job {job.name} needs --input for {', '.join(missing)}; e.g. --input {missing[0]}=PATH"
        )
    for name, path in inputs.items():
        if not path.exists():
            raise UsageError(
                f"--input {name}={path}: {path} does not exist; pass an existing file or directory"
            )


def job_run_from_args(args: argparse.Namespace) -> JobRun:
    """The job, its channels (unnamed outputs go to a new run directory) and its arguments."""
    from mlmax.project import JobRun

    job = _declared_job(args.job)
    inputs = _channel_pairs(args.input, "input")
    outputs = _channel_pairs(args.output, "output")
    _check_channels(job, inputs, outputs)
    if len(outputs) < len(job.outputs):
        from mlmax.pipeline import new_run_dir

        base = new_run_dir()
        for channel in job.outputs:
            outputs.setdefault(channel.name, base / channel.name)
    for name, path in outputs.items():
        _check_writable(name, path)
    return JobRun(job, inputs, outputs, tuple(args.job_args))


def _check_writable(name: str, path: Path) -> None:
    """Refuse an output the job could not be delivered to, before the job runs; the probe
    leaves nothing behind (the runner makes the directory when it delivers)."""
    made = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Root ignores permission bits, so only writing shows a read-only place.
        probe = path / f".write-probe-{secrets.token_hex(3)}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"--output {name}={path}: cannot write {path} ({error.strerror or error}); "
            "choose a writable directory"
        ) from None
    finally:
        for folder in made:  # innermost first
            with contextlib.suppress(OSError):
                folder.rmdir()

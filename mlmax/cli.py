"""The `mlmax` command: argument parsing and printing only; the work is done elsewhere.

Exit codes: 0 success, 1 a job, run or environment failure, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlmax.catalog import JobDefinition, JobRun, get_job
from mlmax.runner_contract import RunnerUnavailableError
from mlmax.termination import exit_code_of, interruption_name, terminate_like_interrupt

if TYPE_CHECKING:
    from mlmax.cloud.pipeline_export import ExportOptions
    from mlmax.pipeline import DataSpec, StepRecord, TrainingOptions

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
DEBUG_PORT = 5678


class UsageError(Exception):
    """Bad arguments or bad input files: printed as one `error:` line, exit code 2."""


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


# --- mlmax pipeline ------------------------------------------------------------------------


def _cmd_pipeline(args: argparse.Namespace) -> int:
    from mlmax.pipeline import (
        DataSpec,
        InputDataError,
        TrainingOptions,
        prepare_run_dir,
        run_census,
    )
    from mlmax.pipeline.metrics import headline
    from mlmax.pipeline.run import RunDirError
    from mlmax.report import write_report
    from mlmax.runners import make_runner

    data = DataSpec(
        rows=args.rows,
        seed=args.seed,
        train_file=args.input,
        new_data_file=args.new_data,
        new_data_drift=args.drift,
    )
    options = TrainingOptions(model_type=args.model_type, seed=args.seed)
    if args.endpoint and args.runner not in ("local", "host"):
        raise UsageError(
            f"--endpoint runs after the local or host runner, not {args.runner}; drop "
            "--endpoint or use --runner local"
        )
    # Check the user's files before creating anything, so bad input leaves no run behind.
    from mlmax.pipeline import validate_data_file

    try:
        if args.input is not None:
            validate_data_file(args.input, labels_required=True)
        if args.new_data is not None:
            validate_data_file(args.new_data, labels_required=False)
    except InputDataError as error:
        raise UsageError(str(error)) from None
    if args.input is None:  # the data is generated: refuse what cannot fit in memory
        from mlmax.data.memory import rows_too_many_for_memory

        too_many = rows_too_many_for_memory(args.rows)
        if too_many:
            raise UsageError(too_many)
    _sweep_killed_sessions(args.output.parent if args.output else None)

    def on_step(step: StepRecord, index: int, total: int, finished: bool) -> None:
        if not finished:
            _progress(f"[{index}/{total}] {step.name}: running on the {args.runner} runner")
        elif step.status == "succeeded":
            metrics = headline(step.job, step.metrics)
            _progress(
                f"[{index}/{total}] {step.name}: ✓ {step.duration_seconds:.1f} s"
                + (f"  {metrics}" if metrics else "")
            )
        else:
            _progress(f"[{index}/{total}] {step.name}: ✗ {step.error}")

    def open_run_dir() -> Path:
        # Only once the runner is ready: Docker down must not leave an empty run directory.
        try:
            run_dir = prepare_run_dir(args.output)
        except RunDirError as error:
            raise UsageError(str(error)) from None
        _progress(f"Run directory: {run_dir}")
        for name, source in data.describe().items():
            _progress(f"  {name}: {source}")
        return run_dir

    if args.runner == LOCAL_PIPELINE:
        from mlmax.localmode.docker_env import require_docker

        try:
            require_docker().close()
        except _environment_errors() as error:
            _error(str(error))
            return EXIT_FAILURE
        return _run_local_pipeline(open_run_dir(), data, options)
    try:
        runner = make_runner(args.runner, progress=_progress)
        with runner:
            run_dir = open_run_dir()
            record = run_census(
                runner, run_dir, data, options, on_step=on_step, write_report=write_report
            )
    except InputDataError as error:
        raise UsageError(str(error)) from None
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE

    steps = [
        (step.name, step.status, step.duration_seconds, headline(step.job, step.metrics))
        for step in record.steps
    ]
    status, seconds = record.status, record.duration_seconds
    endpoint_failed = False
    if args.endpoint and record.status == "succeeded":
        row = _endpoint_step(run_dir)
        endpoint_failed = row[1] != "succeeded"
        steps.append(row)
        seconds += row[2] or 0.0
        status = "failed" if endpoint_failed else status
    _print_steps(steps, status, seconds, "key metrics")
    print()
    if record.status != "succeeded":
        # A job that refused its input (its JobInputError, exit code 2) is the user's bad
        # input, as for every other command: its own sentence and exit code 2.
        refused = next((s for s in record.steps if s.status == "failed" and s.exit_code == 2), None)
        _error(f"{refused.name}: {refused.error}" if refused else record.error or record.status)
        print(f"Run record: {run_dir / 'pipeline.json'} (no report: the run failed)")
        return EXIT_USAGE if refused else EXIT_FAILURE
    report = run_dir / (record.report or "report")
    print(f"Report: {report / 'report.md'}  (also {report / 'report.html'})")
    print(f"Run record: {run_dir / 'pipeline.json'}")
    if args.endpoint:
        print(f"Endpoint check: {run_dir / 'endpoint' / 'endpoint.json'}")
    return EXIT_FAILURE if endpoint_failed else EXIT_OK


def _endpoint_step(run_dir: Path) -> tuple[str, str, float | None, str]:
    """`--endpoint`: deploy the run's model, send the new data, check parity; a table row."""
    from mlmax.localmode.image import ensure_job_image
    from mlmax.pipeline.endpoint_step import EndpointStepError, run_endpoint_step

    _progress("[endpoint] deploying the model and sending the new data")
    started = time.monotonic()
    try:
        check = run_endpoint_step(
            run_dir, image=ensure_job_image(progress=_progress), progress=_progress
        )
    except (EndpointStepError, *_environment_errors()) as error:
        first_line = str(error).splitlines()[0]
        _progress(f"[endpoint] ✗ {first_line}")
        return "endpoint", "failed", time.monotonic() - started, first_line
    status = "succeeded" if check.parity else "failed"
    _progress(f"[endpoint] {'✓' if check.parity else '✗'} {check.summary()}")
    return "endpoint", status, time.monotonic() - started, check.summary()


# `mlmax pipeline --runner local-pipeline`: not a per-step runner; the exported SageMaker
# Pipeline runs as a whole in the SDK's local pipeline session (mlmax.cloud.local_pipeline).
LOCAL_PIPELINE = "local-pipeline"


def _run_local_pipeline(run_dir: Path, data: DataSpec, options: TrainingOptions) -> int:
    from mlmax.cloud.local_pipeline import (
        DEFINITION_FILE,
        EXECUTION_FILE,
        run_census_local_pipeline,
    )
    from mlmax.pipeline import InputDataError

    try:
        result = run_census_local_pipeline(run_dir, data, options, progress=_progress)
    except InputDataError as error:
        raise UsageError(str(error)) from None
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE
    steps = [(step.name, step.status, step.seconds, step.detail or "") for step in result.steps]
    _print_steps(steps, result.status, result.duration, "detail")
    metrics = (result.evaluation or {}).get("metrics", {})
    if metrics:
        print("evaluation: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())))
    print(f"Definition: {run_dir / DEFINITION_FILE}")
    print(f"Execution record: {run_dir / EXECUTION_FILE}")
    if not result.succeeded:
        _error(result.failure_reason or f"the execution {result.status.lower()}")
        return EXIT_FAILURE
    return EXIT_OK


def _print_steps(
    steps: list[tuple[str, str, float | None, str]], status: str, seconds: float, detail: str
) -> None:
    """The summary table of a run: one row a step, then the total."""
    rows = [[name, st, f"{s:.1f} s" if s is not None else "-", d] for name, st, s, d in steps]
    rows.append(["total", status, f"{seconds:.1f} s", ""])
    print(_format_table(["step", "status", "duration", detail], rows, right=(2,)))


# Errors meaning "this machine cannot run the jobs", each already one sentence with the fix.
_ENVIRONMENT_ERRORS = (
    ("mlmax.localmode.docker_env", "DockerUnavailableError"),
    ("mlmax.localmode.base_image", "ImageBuildError"),
    ("mlmax.localmode.wheelhouse", "WheelhouseError"),
    ("mlmax.localmode.s3server", "S3ServerError"),
    ("mlmax.localmode.errors", "LocalModeError"),
)


def _environment_errors() -> tuple[type[BaseException], ...]:
    import importlib

    errors: list[type[BaseException]] = [RunnerUnavailableError]
    for module, name in _ENVIRONMENT_ERRORS:
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):  # that part of mlmax is not installed
            continue
    return tuple(errors)


# --- what killed sessions left: swept at start, or on demand by `mlmax clean` ---------------


def _leftovers(runs_dir: Path | None, *, remove: bool) -> list:
    """Containers, temp dirs and run records of killed sessions; removed/marked if `remove`.

    Without a reachable Docker engine only the temp dirs and run records are looked at.
    """
    from mlmax.localmode import reaper
    from mlmax.pipeline.execute import RECORD_FILE
    from mlmax.pipeline.killed_runs import killed_runs, mark_killed
    from mlmax.pipeline.run import DEFAULT_RUNS_DIR

    found = reaper.reap() if remove else reaper.find()
    for run_dir, pid in killed_runs(runs_dir or DEFAULT_RUNS_DIR):
        if remove:
            mark_killed(run_dir)
        found.append(reaper.Leftover("run record", str(run_dir / RECORD_FILE), pid))
    return found


def _sweep_killed_sessions(runs_dir: Path | None) -> None:
    """Sweep what SIGKILLed sessions left and say so in one line (nothing when none)."""
    from mlmax.localmode import reaper

    swept = _leftovers(runs_dir, remove=True)
    if swept:
        _progress(reaper.describe(swept))


def _cmd_clean(args: argparse.Namespace) -> int:
    found = _leftovers(args.runs, remove=False)
    if not found:
        print("nothing to clean: no killed session left anything")
        return EXIT_OK
    rows = [[f.kind, f.name, str(f.owner_pid or "-")] for f in found]
    print(_format_table(["kind", "what", "owner pid"], rows))
    _leftovers(args.runs, remove=True)
    print(f"✓ removed {len(found)} leftover(s) of killed sessions (run records marked killed)")
    return EXIT_OK


# --- mlmax run / debug ---------------------------------------------------------------------


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
    from mlmax.declarations import DeclarationError

    try:
        return get_job(name)
    except DeclarationError as error:
        raise UsageError(str(error)) from None
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None


def _job_run_from_args(args: argparse.Namespace) -> JobRun:
    job = _declared_job(args.job)
    inputs = _channel_pairs(args.input, "input")
    outputs = _channel_pairs(args.output, "output")
    known_in = {c.name for c in job.inputs}
    known_out = {c.name for c in job.outputs}
    for name in inputs:
        if name not in known_in:
            raise UsageError(
                f"job {job.name} has no input {name!r}; its inputs are: "
                f"{', '.join(sorted(known_in))}"
            )
    for name in outputs:
        if name not in known_out:
            raise UsageError(
                f"job {job.name} has no output {name!r}; its outputs are: "
                f"{', '.join(sorted(known_out))}"
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
    if len(outputs) < len(known_out):
        from mlmax.pipeline.run import new_run_dir

        base = new_run_dir()
        for channel in job.outputs:
            outputs.setdefault(channel.name, base / channel.name)
    return JobRun(job, inputs, outputs, tuple(args.job_args))


def _cmd_run(args: argparse.Namespace) -> int:
    from mlmax.runners import StepFailed, make_runner

    job_run = _job_run_from_args(args)
    if args.runner == "local":
        _sweep_killed_sessions(None)
    _progress(f"Running {job_run.job.name} on the {args.runner} runner")
    try:
        with make_runner(args.runner, progress=_progress) as runner:
            result = runner.run_step(job_run)
    except StepFailed as failure:
        if failure.error_line and failure.exit_code == 2:
            # The job's own JobInputError: the user's input is at fault.
            _error(failure.error_line)
            return EXIT_USAGE
        _error(failure.describe())
        return EXIT_FAILURE
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE
    sys.stdout.write(
        result.log if result.log.endswith("\n") or not result.log else result.log + "\n"
    )
    print(f"✓ {job_run.job.name} finished in {result.duration_seconds:.1f} s")
    for name, path in job_run.outputs.items():
        print(f"  output {name}: {path}")
    return EXIT_OK


def _cmd_debug(args: argparse.Namespace) -> int:
    from mlmax.job_images import image_for_job
    from mlmax.localmode.debug import DEBUG_COMMAND_FLAGS, ReadyInfo, debug_job
    from mlmax.localmode.errors import JobFailedError
    from mlmax.runners import StepFailed

    job_run = _job_run_from_args(args)

    def announce(info: object) -> None:
        # The same line as `pytest --inspectlocal`: VS Code tasks and scripts key on it.
        lines = [info.line] if isinstance(info, ReadyInfo) else list(info.lines)  # type: ignore[attr-defined]
        for line in lines:
            print(line, flush=True)

    try:
        _sweep_killed_sessions(None)
        image = image_for_job(job_run.job, override=args.image, progress=_progress)
        result = debug_job(
            job_run,
            image=image,
            port=args.port,
            wait_timeout=args.wait_timeout,
            on_ready=announce,
            mode="repl" if args.repl else "debugpy",
            progress=_progress,
            flags=DEBUG_COMMAND_FLAGS,  # its messages name --port and --wait-timeout
        )
    except JobFailedError as error:
        failure = StepFailed(job_run.job.name, error.exit_code, error.logs, reason="failed")
        if failure.error_line and failure.exit_code == 2:  # the job's own JobInputError
            _error(failure.error_line)
            return EXIT_USAGE
        _error(failure.describe())
        return EXIT_FAILURE
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE
    print(f"✓ {job_run.job.name} finished in {result.duration:.1f} s")
    for name, path in job_run.outputs.items():
        print(f"  output {name}: {path}")
    return EXIT_OK


# --- mlmax serve ---------------------------------------------------------------------------


def _served_model(args: argparse.Namespace) -> tuple[Path, Path, str]:
    """(model dir, preprocessor dir, where they come from) from --model-dir or a run."""
    from mlmax.localmode.endpoint import model_files
    from mlmax.localmode.errors import JobSetupError
    from mlmax.pipeline.run import DEFAULT_RUNS_DIR, latest_trained_run, served_model_dirs

    if args.model_dir is not None:
        model_dir, proc_dir, origin = args.model_dir, args.proc_model_dir, str(args.model_dir)
    else:
        run = args.run or latest_trained_run(DEFAULT_RUNS_DIR)
        if run is None:
            raise UsageError(
                f"no run with a trained model under {DEFAULT_RUNS_DIR}/; run `mlmax pipeline` "
                "first or pass --model-dir"
            )
        dirs = served_model_dirs(run)
        if dirs is None:
            raise UsageError(
                f"run {run} has no trained model (train/model/model.tar.gz or model.joblib "
                "and preprocessing/proc_model/proc_model.tar.gz); pick a run that succeeded"
            )
        model_dir, proc_dir, origin = dirs[0], dirs[1], f"run {run}"
    try:
        model_files(model_dir, proc_dir)
    except JobSetupError as error:
        raise UsageError(str(error)) from None
    return model_dir, proc_dir or model_dir, origin


def _cmd_serve(args: argparse.Namespace) -> int:
    from mlmax.localmode.endpoint import serve_until_stopped

    model_dir, proc_dir, origin = _served_model(args)
    _progress(f"Serving the model of {origin}")
    try:
        return serve_until_stopped(
            model_dir,
            proc_dir,
            image=args.image,
            timeout=args.timeout,
            debug_port=args.debug_port,
            progress=_progress,
            announce=lambda line: print(line, flush=True),
        )
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE


# --- mlmax image ---------------------------------------------------------------------------


def _cmd_image_build(args: argparse.Namespace) -> int:
    from mlmax.declarations import DeclarationError, current_project
    from mlmax.localmode.image import ensure_job_image

    try:
        project = current_project()
    except DeclarationError as error:
        raise UsageError(str(error)) from None
    # In a project whose [tool.mlmax] names a requirements file, its own image.
    requirements = project.requirements if project else None
    started = time.perf_counter()
    try:
        tag = ensure_job_image(
            base_image=args.base_image,
            with_debugpy=not args.no_debugpy,
            progress=_progress,
            requirements=requirements,
            project=project.name if project and requirements else None,
        )
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE
    print(f"✓ job image {tag} ready ({time.perf_counter() - started:.1f} s)")
    return EXIT_OK


def _cmd_image_ls(args: argparse.Namespace) -> int:
    from mlmax.localmode.image import list_job_images

    try:
        images = list_job_images()
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE
    if not images:
        print("no mlmax images; build one with `mlmax image build`")
        return EXIT_OK
    rows = [
        [
            i.tag,
            i.role,
            {True: "yes", False: "no"}.get(i.debugpy, "-"),  # type: ignore[arg-type]
            f"{i.size_mb:.0f} MB",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(i.created)),
        ]
        for i in images
    ]
    print(_format_table(["image", "role", "debugpy", "size", "created"], rows, right=(3,)))
    return EXIT_OK


def _cmd_image_prune(args: argparse.Namespace) -> int:
    from mlmax.localmode.image import prune_job_images

    try:
        result = prune_job_images(keep_current=not args.all)
    except _environment_errors() as error:
        _error(str(error))
        return EXIT_FAILURE
    for tag in result.removed:
        print(f"removed {tag}")
    for tag in result.in_use:
        print(f"kept {tag} (a container still uses it)")
    print(
        f"✓ {len(result.removed)} image(s) removed, {len(result.kept)} current kept, "
        f"{len(result.in_use)} in use"
    )
    return EXIT_OK


# --- mlmax data ----------------------------------------------------------------------------


def _cmd_data_generate(args: argparse.Namespace) -> int:
    from mlmax.data.generator import write_csv
    from mlmax.data.memory import rows_too_many_for_memory

    if args.output.exists() and not args.force:
        raise UsageError(f"{args.output} already exists; choose another --output or add --force")
    too_many = rows_too_many_for_memory(args.rows)
    if too_many:
        raise UsageError(too_many)
    try:
        path = write_csv(args.output, rows=args.rows, seed=args.seed, drift=args.drift)
    except (ValueError, OSError) as error:
        raise UsageError(str(error)) from None
    print(f"✓ wrote {args.rows} rows (seed {args.seed}, drift {args.drift:g}) to {path}")
    return EXIT_OK


# --- mlmax doctor --------------------------------------------------------------------------


def _port_check(port: int) -> tuple[str, bool, str, str]:
    # The same check the debug runs make (a port in TIME_WAIT after a debug session is
    # usable; a listening one is not), so doctor never disagrees with them.
    from mlmax.localmode.debug import port_is_free

    name = f"Debug port {port}"
    if not port_is_free(port):
        return (
            name,
            False,
            f"127.0.0.1:{port} is in use",
            "Stop what listens there, or pick another port (`mlmax debug --port`, "
            "`pytest --inspect-port`).",
        )
    return name, True, f"127.0.0.1:{port} is free", ""


def _image_checks() -> list[tuple[str, bool, str, str]]:
    """Is the base image here, and the job image of the current workspace?"""
    from mlmax.localmode.base_image import local_base_image
    from mlmax.localmode.docker_env import docker_client
    from mlmax.localmode.image import current_job_tags

    build = "Run `mlmax image build` (offline; it shows progress)."
    client = docker_client()
    try:
        base = local_base_image(client)
        if base is None:
            return [("Base image", False, "no base image in the engine", build)]
        checks = [("Base image", True, base, "")]
        tags = current_job_tags()
        present = [t for t in tags if _image_present(client, t)]
        if present:
            checks.append(("Job image", True, present[0], ""))
        else:
            wanted = tags[0] if tags else "the job image"
            checks.append(("Job image", False, f"{wanted} is not built yet", build))
        return checks
    finally:
        client.close()


def _image_present(client: object, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:
        return False
    return True


def _cmd_doctor(args: argparse.Namespace) -> int:
    if args.cloud:
        from mlmax.cloud.checks import cloud_checks

        checks = [(c.name, c.ok, c.detail, c.fix) for c in cloud_checks()]
    else:
        from mlmax.localmode.docker_env import check_environment

        checks = [(c.name, c.ok, c.detail, c.fix) for c in check_environment()]
        if all(ok for name, ok, _, _ in checks if name == "Docker daemon"):
            checks += _image_checks()
        checks.append(_port_check(DEBUG_PORT))
    for name, ok, detail, fix in checks:
        mark = "✓" if ok else "✗"
        print(f"{mark} {name}: {detail}" + ("" if ok else f"\n    fix: {fix}"))
    failed = sum(not ok for _, ok, _, _ in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed")
    return EXIT_FAILURE if failed else EXIT_OK


# --- mlmax vscode ---------------------------------------------------------------------------


def _cmd_vscode(args: argparse.Namespace) -> int:
    import difflib

    from mlmax.declarations import DeclarationError, current_project
    from mlmax.vscode import VscodeError, apply, plan

    try:
        project = current_project()
    except DeclarationError as error:
        raise UsageError(str(error)) from None
    if project is None or not project.jobs:
        raise UsageError(
            "no jobs are declared here; add [tool.mlmax.jobs.<name>] tables to your "
            "pyproject.toml (README: Use mlmax in your own project)"
        )
    try:
        changes = plan(project)
    except VscodeError as error:
        raise UsageError(str(error)) from None
    if not args.check:
        apply(changes)
    for change in changes:
        where = change.path.relative_to(project.root)
        if not change.changed:
            state = "unchanged"
        elif args.check:
            state = "would create" if change.before is None else "would update"
        else:
            state = "created" if change.before is None else "updated"
        print(f"{state:>12}  {where}")
        for note in change.notes:
            print(f"              {note}")
        if args.check and change.changed:
            sys.stdout.writelines(
                difflib.unified_diff(
                    (change.before or "").splitlines(keepends=True),
                    change.after.splitlines(keepends=True),
                    f"{where} (now)",
                    f"{where} (mlmax vscode)",
                )
            )
    if args.check and any(change.changed for change in changes):
        return EXIT_FAILURE
    return EXIT_OK


# --- the parser ----------------------------------------------------------------------------


def _add_job_run_arguments(
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
    parser.set_defaults(job_args=[])


def build_parser() -> argparse.ArgumentParser:
    from mlmax.pipeline.definition import MODEL_TYPES
    from mlmax.pipeline.inputs import DEFAULT_NEW_DATA_DRIFT

    parser = argparse.ArgumentParser(
        prog="mlmax",
        description="Run, test and debug SageMaker ML jobs on this machine, in the container "
        "they run in on SageMaker.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
        "--rows", type=_positive_int, default=5000, help="rows of generated data (default 5000)"
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
        type=_non_negative_float,
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
        "--endpoint",
        action="store_true",
        help="afterwards, serve the model as a real-time endpoint in its container, send it "
        "the new data and check it predicts what batch inference did",
    )
    pipeline.set_defaults(handler=_cmd_pipeline)

    run = commands.add_parser(
        "run",
        help="run one job",
        description="Run one catalogue job. Arguments after `--` go to the job script.",
        epilog="example: mlmax run monitoring --runner host --input baseline=train.csv "
        "--input data=new.csv --output monitoring=out -- --psi-threshold 0.1",
    )
    _add_job_run_arguments(run)
    run.set_defaults(handler=_cmd_run)

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
    _add_job_run_arguments(debug, runners=("local",))
    debug.add_argument(
        "--port",
        type=int,
        default=DEBUG_PORT,
        help=f"host port on 127.0.0.1 for debugpy (default {DEBUG_PORT}; 0 = a free one)",
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
    debug.set_defaults(handler=_cmd_debug)

    serve = commands.add_parser(
        "serve",
        help="serve a trained model as a real-time endpoint in its container",
        description="Deploy a trained model through SageMaker Local Mode's hosting path "
        "(GET /ping, POST /invocations with CSV or JSON rows) on a free port of 127.0.0.1, "
        "until Ctrl-C; the container is removed then. Default: the latest run under runs/.",
        epilog="example: mlmax serve, then curl -H 'Content-Type: text/csv' --data-binary "
        "@new.csv http://127.0.0.1:PORT/invocations",
    )
    serve.add_argument("--run", type=Path, help="a run directory (default: the latest one)")
    serve.add_argument("--model-dir", type=Path, help="a directory with model.tar.gz")
    serve.add_argument(
        "--proc-model-dir",
        type=Path,
        help="a directory with proc_model.tar.gz (default: --model-dir)",
    )
    serve.add_argument("--image", help="serve in this local image instead of mlmax's job image")
    serve.add_argument(
        "--timeout",
        type=_non_negative_float,
        default=120.0,
        metavar="SECONDS",
        help="how long the endpoint may take to answer /ping (default 120)",
    )
    serve.add_argument(
        "--debug-port",
        type=int,
        default=None,
        metavar="PORT",
        help="run the handler under debugpy, reachable on 127.0.0.1:PORT (0 = a free one)",
    )
    serve.set_defaults(handler=_cmd_serve)

    image = commands.add_parser(
        "image",
        help="build, list and prune the job images",
        description="Manage the Docker images the jobs run in.",
    )
    image_commands = image.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = image_commands.add_parser(
        "build",
        help="build the job image if it is missing",
        description="Build the job image (offline) unless the current one exists; shows progress.",
    )
    build.add_argument("--base-image", help="base image to build on (default: the Dockerfile's)")
    build.add_argument("--no-debugpy", action="store_true", help="leave debugpy out")
    build.set_defaults(handler=_cmd_image_build)
    ls = image_commands.add_parser(
        "ls", help="list mlmax images", description="List the images mlmax built."
    )
    ls.set_defaults(handler=_cmd_image_ls)
    prune = image_commands.add_parser(
        "prune",
        help="remove outdated mlmax images",
        description="Remove mlmax images that the current workspace no longer uses.",
    )
    prune.add_argument("--all", action="store_true", help="remove the current images too")
    prune.set_defaults(handler=_cmd_image_prune)

    data = commands.add_parser(
        "data", help="generate sample data", description="Sample census-like data."
    )
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    generate = data_commands.add_parser(
        "generate",
        help="write generated census-like rows to a CSV",
        description="Write generated census-like rows (same rows for the same seed) to a CSV.",
    )
    generate.add_argument(
        "--rows", type=_positive_int, default=5000, help="number of rows (default 5000)"
    )
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument(
        "--drift",
        type=_non_negative_float,
        default=0.0,
        help="shift of the numeric columns, 0 = none (default 0)",
    )
    generate.add_argument(
        "--output", type=Path, required=True, metavar="FILE", help="CSV file to write"
    )
    generate.add_argument("--force", action="store_true", help="overwrite an existing file")
    generate.set_defaults(handler=_cmd_data_generate)

    doctor = commands.add_parser(
        "doctor",
        help="check that this machine can run the jobs",
        description="Check Docker, Compose, disk space and the debug port; each line says "
        "how to fix what fails. Exit code 1 if anything fails.",
    )
    doctor.add_argument(
        "--cloud",
        action="store_true",
        help="check the set-up for managed SageMaker instead (credentials, region, role, "
        "bucket, image), without calling AWS",
    )
    doctor.set_defaults(handler=_cmd_doctor)

    vscode = commands.add_parser(
        "vscode",
        help="write .vscode launch, tasks and settings for this project's jobs",
        description="Write or update .vscode/launch.json, tasks.json and settings.json for "
        "the jobs declared in [tool.mlmax.jobs] of the nearest pyproject.toml: attach and "
        "inspect configurations with each job's path mapping, test tasks, Test Explorer "
        "settings. Only mlmax's marked block in each file changes; your entries and comments "
        "stay. Exit code 1 with --check if anything would change.",
    )
    vscode.add_argument(
        "--check", action="store_true", help="show what would change, write nothing"
    )
    vscode.set_defaults(handler=_cmd_vscode)

    clean = commands.add_parser(
        "clean",
        help="remove what killed sessions left",
        description="List, then remove, what mlmax sessions killed without clean-up (SIGKILL, "
        "a crash) left on this machine: their containers, compose processes and temp dirs; "
        "their run records under --runs are marked killed. Live sessions are never touched.",
    )
    clean.add_argument(
        "--runs",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the pipeline's run directories are (default runs/)",
    )
    clean.set_defaults(handler=_cmd_clean)
    return parser


# --- mlmax pipeline export -----------------------------------------------------------------


def build_export_parser() -> argparse.ArgumentParser:
    from mlmax.cloud.pipeline_export import DEFAULT_PIPELINE_NAME, DEFAULT_THRESHOLD

    parser = argparse.ArgumentParser(
        prog="mlmax pipeline export",
        description="Write the pipeline as a SageMaker Pipeline definition (JSON). Without "
        "--upsert nothing reaches AWS (the code uploads go to an emulated S3).",
    )
    parser.add_argument("--output", type=Path, required=True, metavar="FILE")
    parser.add_argument("--role", help="execution role ARN (default: $MLMAX_SAGEMAKER_ROLE)")
    parser.add_argument("--bucket", help="S3 bucket (default: $MLMAX_SAGEMAKER_BUCKET)")
    parser.add_argument("--image", help="job image URI (default: $MLMAX_SAGEMAKER_IMAGE)")
    parser.add_argument("--region", help="AWS region (default: boto's configuration)")
    parser.add_argument("--name", default=DEFAULT_PIPELINE_NAME, help="pipeline name")
    parser.add_argument(
        "--threshold",
        type=_non_negative_float,
        default=DEFAULT_THRESHOLD,
        help=f"minimum ROC AUC for batch inference to run (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument("--upsert", action="store_true", help="create or update the pipeline")
    parser.add_argument("--start", action="store_true", help="start an execution (with --upsert)")
    return parser


def _cmd_pipeline_export(argv: list[str]) -> int:
    import boto3

    from mlmax.cloud.pipeline_export import ExportOptions, emulated_aws_session, export_pipeline
    from mlmax.cloud.runner import SageMakerOptions
    from mlmax.localmode.environment import scoped_environ

    try:
        args = build_export_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    found = SageMakerOptions.from_environment(
        role=args.role, bucket=args.bucket, image_uri=args.image
    )
    missing = [
        flag
        for flag, value in (
            ("--role", found.role),
            ("--bucket", found.bucket),
            ("--image", found.image_uri),
        )
        if not value
    ]
    if missing:
        _error(f"the export needs {', '.join(missing)} (or MLMAX_SAGEMAKER_* variables)")
        return EXIT_USAGE
    if args.start and not args.upsert:
        _error("--start needs --upsert: a pipeline must exist before it can start")
        return EXIT_USAGE
    options = ExportOptions(
        role=found.role or "",
        bucket=found.bucket or "",
        image_uri=found.image_uri or "",
        pipeline_name=args.name,
        threshold=args.threshold,
    )
    region = args.region or boto3.Session().region_name or "us-east-1"
    # The SDK makes boto clients with the default region while it is imported: without
    # AWS_DEFAULT_REGION that dies with NoRegionError, --region or not.
    with scoped_environ({"AWS_DEFAULT_REGION": region}):
        if not args.upsert:
            with emulated_aws_session(region) as session:
                result = export_pipeline(
                    options, args.output, boto_session=session, progress=_progress
                )
            print(result.path)
            return EXIT_OK
        return _upsert(options, args, region)


def _upsert(options: ExportOptions, args: argparse.Namespace, region: str) -> int:
    import boto3
    from botocore.exceptions import NoCredentialsError
    from sagemaker.core.helper.iam_role_resolver import RoleValidationError

    from mlmax.cloud.pipeline_export import export_pipeline, role_validation_line

    try:
        result = export_pipeline(
            options, args.output, boto_session=boto3.Session(region_name=region), upsert=True,
            start=args.start, progress=_progress,
        )  # fmt: skip
    except NoCredentialsError:
        _error(
            "--upsert creates the pipeline in your AWS account, but no AWS credentials were "
            "found; configure them (AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY) or leave --upsert out"
        )
        return EXIT_USAGE
    except RoleValidationError as error:
        _error(role_validation_line(error, options.role))
        return EXIT_USAGE
    print(result.path)
    return EXIT_OK


def _split_job_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Everything after the first `--` belongs to the job script, not to mlmax."""
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["pipeline", "export"]:
        # A verb under `pipeline` without turning `mlmax pipeline` into a command group.
        return _cmd_pipeline_export(argv[2:])
    own, job_args = _split_job_args(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(own)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    if job_args and args.command not in ("run", "debug"):
        _error(f"`--` passes arguments to a job; `mlmax {args.command}` runs no single job")
        return EXIT_USAGE
    if job_args:
        args.job_args = job_args
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        with terminate_like_interrupt():  # SIGTERM, SIGHUP clean up as Ctrl-C does
            return handler(args)
    except UsageError as error:
        _error(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt as interruption:
        _error(f"interrupted ({interruption_name(interruption)})")
        return exit_code_of(interruption)


if __name__ == "__main__":
    sys.exit(main())

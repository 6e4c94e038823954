"""`mlmax serve`: serve a trained model as a real-time endpoint in its container until Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlmax.cli.clean import sweep_killed_sessions
from mlmax.cli.common import non_negative_float, port_number, progress
from mlmax.common import UsageError

if TYPE_CHECKING:
    from mlmax.cli.common import Commands
    from mlmax.project import EndpointDefinition


def register(commands: Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve a trained model as a real-time endpoint in its container",
        description="Deploy a trained model through SageMaker Local Mode's hosting path "
        "(GET /ping, POST /invocations with CSV or JSON rows) on a free port of 127.0.0.1, "
        "until Ctrl-C; the container is removed then. NAME: an endpoint the project in the "
        "current folder declares ([tool.mlmax.endpoints.NAME]: its inference script, with "
        "model_fn, input_fn, predict_fn, output_fn), serving --model-dir or its declared "
        "model; without NAME, mlmax's census model of the latest run under runs/.",
        epilog="example: mlmax serve, then curl -H 'Content-Type: text/csv' --data-binary "
        "@new.csv http://127.0.0.1:PORT/invocations",
    )
    serve.add_argument("name", nargs="?", metavar="NAME", help="an endpoint the project declares")
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
        type=non_negative_float,
        default=120.0,
        metavar="SECONDS",
        help="how long the endpoint may take to answer /ping (default 120)",
    )
    serve.add_argument(
        "--debug-port",
        type=port_number,
        default=None,
        metavar="PORT",
        help="run the handler under debugpy, reachable on 127.0.0.1:PORT (0 = a free one)",
    )
    serve.set_defaults(handler=run_serve)


def _served_model(args: argparse.Namespace) -> tuple[Path, Path, str]:
    """(model dir, preprocessor dir, where they come from) from --model-dir or a run."""
    from mlmax.localmode.endpoint import model_files
    from mlmax.localmode.errors import JobSetupError
    from mlmax.pipeline import DEFAULT_RUNS_DIR
    from mlmax.project import load_sample

    served = load_sample("pipeline")  # what a census run serves, reached by name

    if args.model_dir is not None:
        model_dir, proc_dir, origin = args.model_dir, args.proc_model_dir, str(args.model_dir)
    else:
        run = args.run or served.latest_trained_run(DEFAULT_RUNS_DIR)
        if run is None:
            raise UsageError(
                f"no run with a trained model under {DEFAULT_RUNS_DIR}/; run `mlmax pipeline` "
                "first or pass --model-dir"
            )
        dirs = served.served_model_dirs(run)
        if dirs is None:
            raise UsageError(
                f"run {run} has no trained model (train/model/model.tar.gz or model.joblib "
                "and preprocessing/proc_model/proc_model.tar.gz); pick a run that succeeded"
            )
        model_dir, proc_dir, origin = dirs[0], dirs[1], f"run {run}"
    try:
        model_files(model_dir, proc_dir)
    except JobSetupError as error:  # here the user named the directories: bad input
        raise UsageError(str(error)) from None
    return model_dir, proc_dir or model_dir, origin


def _declared_endpoint(args: argparse.Namespace) -> tuple[EndpointDefinition, Path, str | None]:
    """(the endpoint NAME, its model directory, the project's image or None)."""
    from mlmax.project import current_project

    project = current_project()
    if project is None:
        raise UsageError(
            f"no project here declares endpoint {args.name!r}; run mlmax serve in the folder "
            f"of a pyproject.toml with [tool.mlmax.endpoints.{args.name}]"
        )
    endpoint = project.endpoint(args.name)
    if args.proc_model_dir is not None:
        raise UsageError(
            "--proc-model-dir is for mlmax's census model; a declared endpoint's model_fn "
            "reads everything from --model-dir"
        )
    model_dir = args.model_dir or endpoint.model_dir
    if model_dir is None:
        raise UsageError(
            f"endpoint {args.name!r} declares no model; pass --model-dir (the folder its "
            'training job wrote) or add model = "path" to its declaration'
        )
    if not Path(model_dir).is_dir():
        raise UsageError(
            f"the model directory {model_dir} of endpoint {args.name!r} does not exist; train "
            "the model first or pass --model-dir"
        )
    image = args.image
    if image is None and (project.image or project.requirements):
        from mlmax.localmode.image import project_default_image

        image = project_default_image(project.root, progress=progress)
    return endpoint, Path(model_dir), image


def run_serve(args: argparse.Namespace) -> int:
    from mlmax.localmode.endpoint import CENSUS_HANDLER, serve_until_stopped

    if args.name is not None:
        handler, model_dir, image = _declared_endpoint(args)
        proc_dir: Path | None = None
        origin = f"{model_dir} with endpoint {handler.name} ({handler.script_path})"
    else:
        handler, image = CENSUS_HANDLER, args.image
        model_dir, proc_dir, origin = _served_model(args)
    sweep_killed_sessions(None)
    progress(f"Serving the model of {origin}")
    return serve_until_stopped(
        model_dir,
        proc_dir,
        image=image,
        timeout=args.timeout,
        debug_port=args.debug_port,
        handler=handler,
        progress=progress,
        announce=lambda line: print(line, flush=True),
    )

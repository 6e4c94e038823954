"""`mlmax data generate`: write generated census-like rows to a CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlmax.cli.common import EXIT_OK, non_negative_float, positive_int
from mlmax.common import UsageError

if TYPE_CHECKING:
    from mlmax.cli.common import Commands


def register(commands: Commands) -> None:
    data = commands.add_parser(
        "data", help="generate sample data", description="Sample census-like data."
    )
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="write generated census-like rows to a CSV",
        description="Write generated census-like rows (same rows for the same seed) to a CSV.",
    )
    generate.add_argument(
        "--rows", type=positive_int, default=5000, help="number of rows (default 5000)"
    )
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument(
        "--drift",
        type=non_negative_float,
        default=0.0,
        help="shift of the numeric columns, 0 = none (default 0)",
    )
    generate.add_argument(
        "--output", type=Path, required=True, metavar="FILE", help="CSV file to write"
    )
    generate.add_argument("--force", action="store_true", help="overwrite an existing file")
    generate.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from mlmax.common import CENSUS_DATA, require_extra

    require_extra("census", "`mlmax data generate`", CENSUS_DATA)
    from mlmax.project import load_sample

    # The sample's generator, reached by name (the tool imports no sample code).
    write_csv = load_sample("data.generator").write_csv
    rows_too_many_for_memory = load_sample("data.memory").rows_too_many_for_memory

    if args.output.exists() and not args.force:
        raise UsageError(f"{args.output} already exists; choose another --output or add --force")
    too_many = rows_too_many_for_memory(args.rows)
    if too_many:
        raise UsageError(too_many)
    try:
        path = write_csv(args.output, rows=args.rows, seed=args.seed, drift=args.drift)
    except (ValueError, OSError) as error:  # an unwritable or impossible --output
        raise UsageError(str(error)) from None
    print(f"✓ wrote {args.rows} rows (seed {args.seed}, drift {args.drift:g}) to {path}")
    return EXIT_OK

"""Write generated census-like rows to a CSV file.

python -m mlmax_census.data --rows 50000 --seed 0 --output census.csv [--drift 0.5]
"""

from __future__ import annotations

import argparse
import sys

from mlmax_census.data.generator import write_csv


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mlmax_census.data", description="Write generated census-like rows to a CSV."
    )
    parser.add_argument("--rows", type=int, required=True, help="number of rows (>= 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--drift", type=float, default=0.0, help="numeric drift, 0 = none (default 0)"
    )
    parser.add_argument("--output", required=True, help="CSV file to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        path = write_csv(args.output, rows=args.rows, seed=args.seed, drift=args.drift)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.rows} rows to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Drop customers with too short a tenure and rows with missing values; write clean.csv.

A SageMaker processing job: reads every CSV in --input-dir, writes --output-dir/clean.csv
and --output-dir/summary.json.
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np

COLUMNS = ["tenure", "monthly_charges", "support_calls", "churned"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dir", default="/opt/ml/processing/input/raw")
    parser.add_argument("--output-dir", default="/opt/ml/processing/clean")
    parser.add_argument("--min-tenure", type=float, default=0.0)
    return parser.parse_args(argv)


def read_rows(input_dir):
    rows = []
    for path in sorted(Path(input_dir).glob("*.csv")):
        with path.open(newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def main(args):
    rows = read_rows(args.input_dir)
    kept = [
        row
        for row in rows
        if all(row.get(column, "") != "" for column in COLUMNS)
        and float(row["tenure"]) >= args.min_tenure
    ]
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with (output / "clean.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({column: row[column] for column in COLUMNS} for row in kept)
    churn_rate = float(np.mean([float(row["churned"]) for row in kept])) if kept else 0.0
    summary = {"rows_in": len(rows), "rows_out": len(kept), "churn_rate": churn_rate}
    (output / "summary.json").write_text(json.dumps(summary))
    print(f"clean: kept {len(kept)} of {len(rows)} rows")


if __name__ == "__main__":
    main(parse_args())

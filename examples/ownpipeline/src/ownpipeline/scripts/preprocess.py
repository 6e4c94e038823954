"""Processing job: the raw CSVs in /opt/ml/processing/input become one training CSV.

Written for SageMaker Processing as is: fixed container paths, the label first in the
output (the scikit-learn training convention). `--min-rows N` refuses too little data.
"""

import argparse
import csv
import sys
from pathlib import Path

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/train")
FEATURES = ("length", "width")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-rows", type=int, default=1)
    args = parser.parse_args()

    rows = []
    for path in sorted(INPUT.glob("*.csv")):
        with path.open(newline="") as handle:
            rows.extend(csv.DictReader(handle))
    if len(rows) < args.min_rows:
        sys.exit(f"preprocess: only {len(rows)} rows in {INPUT}, fewer than {args.min_rows}")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with (OUTPUT / "train.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        for row in rows:
            writer.writerow([1 if row["species"] == "long" else 0, *(row[f] for f in FEATURES)])
    print(f"preprocess: wrote {len(rows)} rows to {OUTPUT / 'train.csv'}")


if __name__ == "__main__":
    main()

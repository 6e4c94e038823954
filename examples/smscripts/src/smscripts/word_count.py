"""Count the words of every text file in the input: a SageMaker processing script.

Written as SageMaker's processing examples are: the container paths are constants, and the
instance's share of the files comes from its place among the job's hosts in
/opt/ml/config/resourceconfig.json (each instance counts every n-th file).
"""

import collections
import csv
import json
import re
from pathlib import Path

INPUT_DIR = Path("/opt/ml/processing/input_data")
OUTPUT_DIR = Path("/opt/ml/processing/output/counts")
RESOURCE_CONFIG = Path("/opt/ml/config/resourceconfig.json")
WORD = re.compile(r"[a-z']+")


def main():
    files = sorted(path for path in INPUT_DIR.iterdir() if path.is_file())
    resources = json.loads(RESOURCE_CONFIG.read_text())
    hosts = sorted(resources["hosts"])
    mine = files[hosts.index(resources["current_host"]) :: len(hosts)]
    counts = collections.Counter()
    for path in mine:
        counts.update(WORD.findall(path.read_text(encoding="utf-8").lower()))
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    with (OUTPUT_DIR / "counts.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["word", "count"])
        writer.writerows(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    summary = {
        "files": len(mine),
        "words": sum(counts.values()),
        "distinct": len(counts),
        "instance_type": resources["current_instance_type"],
    }
    (OUTPUT_DIR / "summary.json").write_text(json.dumps(summary))
    print(f"word count: {summary['words']} words in {len(mine)} files")


if __name__ == "__main__":
    main()

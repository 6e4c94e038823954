"""What do the SDK import's speed-ups buy? Deferred pydantic builds and the collector's freeze.

Each variant in a fresh interpreter, interleaved, repeated (median, min, max), with the
machine's load (`uptime`) printed next to the table:

- the import of the SDK modules a Local Mode run uses, with pydantic building every model's
  validator at import (plain) and on first use (deferred, what `import_sdk` does);
- one full garbage collection after that import, with the import's objects tracked (plain)
  and frozen out of the collector (frozen, what `import_sdk` does): what every full
  collection, and the one at interpreter exit, costs.

    .venv/bin/python benchmarks/sdk_import.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from mlmax.common.tables import print_table

MODULES = ("sagemaker.core", "sagemaker.core.local", "sagemaker.core.processing")
CHILD = f"""
import gc, importlib, json, sys, time
import pydantic
deferred, frozen = sys.argv[1] == "deferred", sys.argv[2] == "frozen"
start = time.perf_counter()
if deferred:
    pydantic.BaseModel.model_config["defer_build"] = True
for module in {MODULES!r}:
    importlib.import_module(module)
pydantic.BaseModel.model_config.pop("defer_build", None)
imported = time.perf_counter() - start
if frozen:
    gc.freeze()
start = time.perf_counter()
gc.collect()
print(json.dumps({{"import": imported, "collection": time.perf_counter() - start}}))
"""
VARIANTS = {
    "plain": ("plain", "plain"),
    "deferred builds": ("deferred", "plain"),
    "deferred builds, frozen": ("deferred", "frozen"),
}


def measure(repeats: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        name: {"import": [], "collection": []} for name in VARIANTS
    }
    for _ in range(repeats):
        for name, arguments in VARIANTS.items():
            done = subprocess.run(
                [sys.executable, "-c", CHILD, *arguments],
                capture_output=True,
                text=True,
                check=True,
            )
            for phase, seconds in json.loads(done.stdout).items():
                times[name][phase].append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times = measure(args.repeats)
    rows = []
    for name, phases in times.items():
        for phase, values in phases.items():
            rows.append(
                [
                    name,
                    phase,
                    f"{statistics.median(values):.3f}",
                    f"{min(values):.3f}",
                    f"{max(values):.3f}",
                ]
            )
    print_table(["variant", "phase", "median s", "min s", "max s"], rows, right=(2, 3, 4))
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    print(f"load: {load.strip()}")


if __name__ == "__main__":
    main()

"""How does `mlmax pipeline` grow with the data? Wall time and peak memory per step.

Runs the census pipeline at each size on the host runner and in Local Mode containers, one
run directory per size and runner, and records per step:
- wall time (pipeline.json's duration of the step),
- peak memory: the highest peak RSS (VmHWM) of the step's job process, on the host or in its
  container, sampled from /proc every 0.1 s while the step runs (the same kernel sees both),
- the run directory's size, to check it holds each input once.

Prints a table, the growth exponent between the two largest sizes (1.0 = linear) and peak
memory as a multiple of the input file. The figures go to benchmarks/results/scale.json with
their date, commit and load average, and so do the runs themselves (`runs`), from which the
documentation's benchmark page plots both on log-log axes (`plot`).

    .venv/bin/python benchmarks/scale.py [--rows 10000,100000,1000000] [--runners host,local]
        [--plot FILE.png] [--table-only]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from results import RESULTS, Results  # benchmarks/ is on sys.path as a script

from mlmax.common import tables

SCRIPTS = {
    b"preprocessing.py": "preprocessing",
    b"train.py": "train",
    b"evaluation.py": "evaluation",
    b"inference.py": "inference",
    b"monitoring.py": "monitoring",
}


def _step_of(cmdline: bytes) -> str | None:
    words = cmdline.split(b"\0")
    for word in words:
        for script, step in SCRIPTS.items():
            if word == script or word.endswith(b"/" + script):
                if step == "preprocessing" and b"infer" in words:
                    return "preprocessing-infer"
                return step
    return None


def _status_field(pid: str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _descends_from(pid: str, ancestor: int) -> bool:
    for _ in range(6):
        parent = _status_field(pid, "PPid")
        if parent == ancestor:
            return True
        if parent <= 1:
            return False
        pid = str(parent)
    return False


class PeakMemory(threading.Thread):
    """Samples the peak RSS of this process's job processes, by step (bytes)."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="peak-memory")
        self.peaks: dict[str, int] = {}
        self._done = threading.Event()
        self._own = os.getpid()

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.sample()

    def stop(self) -> dict[str, int]:
        self._done.set()
        self.join()
        return dict(self.peaks)

    def _our_containers(self) -> set[str]:
        from mlmax.localmode.engine import containers, labels

        found = containers.docker_client().containers.list(
            ignore_removed=True, filters={"label": f"{labels.OWNER_PID}={self._own}"}
        )
        return {c.id for c in found}

    def sample(self) -> None:
        ours = self._our_containers()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                step = _step_of(Path(f"/proc/{entry}/cmdline").read_bytes())
                if step is None:
                    continue
                cgroup = Path(f"/proc/{entry}/cgroup").read_text()
                if not (_descends_from(entry, self._own) or any(c in cgroup for c in ours)):
                    continue
                peak = _status_field(entry, "VmHWM") * 1024
            except (OSError, ValueError):
                continue  # the process ended between two reads
            self.peaks[step] = max(self.peaks.get(step, 0), peak)


def _unique_size(path: Path) -> int:
    """Bytes the tree really holds: hard-linked files count once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            st = p.stat()
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def measure(runner_name: str, rows: int, root: Path) -> dict:
    """One run on a user's file (`--input FILE`): the case that used to copy it twice."""
    from mlmax.runners.host import HostRunner
    from mlmax.runners.local import LocalModeRunner
    from mlmax_census.data.generator import write_csv
    from mlmax_census.pipeline import DataSpec, TrainingOptions, run_census

    data = root / f"census-{rows}.csv"
    if not data.exists():
        write_csv(data, rows, 1, 0.0)
    run_dir = root / f"{runner_name}-{rows}"
    runner = HostRunner() if runner_name == "host" else LocalModeRunner()
    sampler = PeakMemory()
    with runner:
        sampler.start()
        started = time.perf_counter()
        record = run_census(runner, run_dir, DataSpec(train_file=data), TrainingOptions(seed=1))
        wall = time.perf_counter() - started
    peaks = sampler.stop()
    if record.status != "succeeded":
        raise SystemExit(f"{runner_name} at {rows} rows: {record.status}: {record.error}")
    input_bytes = data.stat().st_size
    inputs_held = _unique_size(run_dir / "inputs")
    return {
        "runner": runner_name,
        "rows": rows,
        "wall_seconds": round(wall, 2),
        "input_bytes": input_bytes,
        "inputs_bytes_in_run_dir": inputs_held,
        "run_dir_bytes": _unique_size(run_dir),
        "steps": {
            s.name: {"seconds": s.duration_seconds, "peak_bytes": peaks.get(s.name)}
            for s in record.steps
        },
    }


def _exponent(results: list[dict], runner: str, step: str, key: str) -> float | None:
    points = sorted(
        (r["rows"], r["steps"][step][key])
        for r in results
        if r["runner"] == runner and r["steps"][step][key]
    )
    if len(points) < 2:
        return None
    (x0, y0), (x1, y1) = points[-2], points[-1]
    return math.log(y1 / y0) / math.log(x1 / x0)


def print_table(results: list[dict]) -> None:
    steps = list(results[0]["steps"])
    rows = []
    for r in results:
        for step in steps:
            peak = r["steps"][step]["peak_bytes"]
            rows.append(
                [
                    r["runner"],
                    f"{r['rows']:,}",
                    step,
                    f"{r['steps'][step]['seconds']:.2f}",
                    f"{peak / 2**20:.0f}" if peak else "?",
                    f"{peak / r['input_bytes']:.1f}x" if peak else "?",
                ]
            )
        held = r["inputs_bytes_in_run_dir"] / r["input_bytes"]
        rows.append(
            [
                r["runner"],
                f"{r['rows']:,}",
                "whole pipeline",
                f"{r['wall_seconds']:.2f}",
                f"input {r['input_bytes'] / 2**20:.1f}",
                f"inputs/ {held:.2f}x",
            ]
        )
    tables.print_table(
        ["runner", "rows", "step", "wall s", "peak MiB", "peak/input"], rows, right=(1, 3, 4, 5)
    )
    print("\ngrowth exponent between the two largest sizes (1.0 = linear)")
    growth = []
    for runner in dict.fromkeys(r["runner"] for r in results):
        for step in steps:
            t = _exponent(results, runner, step, "seconds")
            m = _exponent(results, runner, step, "peak_bytes")
            growth.append(
                [runner, step, "?" if t is None else f"{t:.2f}", "?" if m is None else f"{m:.2f}"]
            )
    tables.print_table(["runner", "step", "time", "peak memory"], growth, right=(2, 3))


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(results[0]["steps"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for runner, style in (("host", "-o"), ("local", "--s")):
        mine = sorted((r for r in results if r["runner"] == runner), key=lambda r: r["rows"])
        if not mine:
            continue
        rows = [r["rows"] for r in mine]
        for i, step in enumerate(steps):
            color = f"C{i}"
            seconds = [r["steps"][step]["seconds"] for r in mine]
            peaks = [(r["steps"][step]["peak_bytes"] or math.nan) / 2**20 for r in mine]
            label = f"{step} ({runner})"
            left.plot(rows, seconds, style, color=color, label=label, markersize=4)
            right.plot(rows, peaks, style, color=color, markersize=4)
        if runner == "host":
            sizes = [r["input_bytes"] / 2**20 for r in mine]
            right.plot(rows, sizes, ":", color="black", label="input file")
    for axis, title, unit in ((left, "wall time per step", "s"), (right, "peak RSS", "MiB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("rows")
        axis.set_ylabel(unit)
        axis.set_title(title + " (solid: host, dashed: Local Mode)")
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=6, ncol=2)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=70)


def record(run: dict, figures: Results) -> None:
    """One run's figures: each step's wall time and peak memory, the whole pipeline's time."""
    table = f"{run['rows']:,} rows ({run['input_bytes'] / 2**20:.1f} MiB file)"
    runner = run["runner"]
    for step, measured in run["steps"].items():
        figures.add(table, step, f"{runner} wall", measured["seconds"], "s")
        peak = measured["peak_bytes"]
        if peak:
            figures.add(table, step, f"{runner} peak", round(peak / 2**20), "MiB")
            figures.add(
                table, step, f"{runner} peak/input", round(peak / run["input_bytes"], 2), "x"
            )
    figures.add(table, "whole pipeline", f"{runner} wall", run["wall_seconds"], "s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--runners", default="host,local")
    parser.add_argument("--plot", type=Path, default=None, help="also draw the plot to FILE.png")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument(
        "--table-only", action="store_true", help="print the table of the results, run nothing"
    )
    args = parser.parse_args(argv)
    if args.table_only:
        runs = json.loads((args.results / "scale.json").read_text())["runs"]
        print_table(runs)
        if args.plot:
            plot(runs, args.plot)
        return 0
    figures = Results("scale", __doc__.splitlines()[0], argv)
    figures.extra["runs"] = runs = []
    with tempfile.TemporaryDirectory(prefix="mlmax-scale-") as temp:
        for rows in (int(r) for r in args.rows.split(",")):
            for runner in args.runners.split(","):
                print(f"  {runner} runner, {rows} rows...", file=sys.stderr, flush=True)
                runs.append(measure(runner, rows, Path(temp)))
                record(runs[-1], figures)
                # Saved after every run: a long series interrupted keeps what it measured.
                figures.write(args.results)
    print_table(runs)
    if args.plot:
        plot(runs, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What does Local Mode cost? Each job in its container vs the same script on the host.

Measured side by side in one run (host and container interleaved, a few repeats, median),
with the engine's floor (`docker run --rm IMAGE python3 -c pass`) and a job that does
nothing, which should finish within the floor plus 2 s. The figures go to
benchmarks/results/localmode_overhead.json with their date, commit and load average.

    .venv/bin/python benchmarks/localmode_overhead.py [--repeats 3] [--rows 2000] [--image TAG]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from results import RESULTS, Results, Samples  # benchmarks/ is on sys.path as a script

from mlmax.common.tables import print_table
from mlmax.localmode.run.container_run import run_job
from mlmax.localmode.run.local_mode import LocalMode
from mlmax.project.catalog import Channel, JobDefinition, JobRun, get_job
from mlmax.runners.host import host_environment, job_command
from mlmax_census.data.generator import write_csv

NOOP = JobDefinition(
    name="noop",
    script="noop.py",
    kind="processing",
    inputs=(Channel("data", "--input-dir", "/opt/ml/processing/input/data"),),
    outputs=(),
)


def _timed(action: Callable[[], object], samples: Samples) -> float:
    started = time.perf_counter()
    action()
    return samples.add(time.perf_counter() - started)


def _host(run: JobRun, script: Path | None = None) -> None:
    command = job_command(run)
    if script is not None:
        command[1] = str(script)
    subprocess.run(command, env=host_environment(), check=True, capture_output=True)


def _floor(image: str) -> None:
    subprocess.run(["docker", "run", "--rm", image, "python3", "-c", "pass"], check=True)


class Chain:
    """Fresh output directories per repeat, wired like the pipeline."""

    def __init__(self, root: Path, rows: int) -> None:
        self.root = root
        for name, seed, drift in (("raw", 1, 0.0), ("new", 2, 1.0)):
            (root / name).mkdir()
            write_csv(root / name / "census.csv", rows, seed=seed, drift=drift)
        self.noop_code = root / "noop-code"
        self.noop_code.mkdir()
        (self.noop_code / "noop.py").write_text("pass\n")

    def runs(self, where: str, repeat: int) -> list[JobRun]:
        out = self.root / f"{where}-{repeat}"
        raw, new = self.root / "raw", self.root / "new"

        def run(job: str, inputs: dict, outputs: list[str], arguments=()) -> JobRun:
            return JobRun(
                get_job(job),
                inputs=inputs,
                outputs={name: out / job / name for name in outputs},
                arguments=tuple(arguments),
            )

        pre = out / "preprocessing"
        return [
            JobRun(NOOP, inputs={"data": raw}, outputs={}),
            run("preprocessing", {"data": raw}, ["train", "test", "proc_model"]),
            run("train", {"train": pre / "train", "test": pre / "test"}, ["model"]),
            run(
                "evaluation",
                {"model": out / "train" / "model", "test": pre / "test"},
                ["evaluation"],
            ),
            run(
                "preprocessing-infer",
                {"data": new, "proc_model": pre / "proc_model"},
                ["features", "labels"],
            ),
            run(
                "inference",
                {"model": out / "train" / "model", "data": out / "preprocessing-infer/features"},
                ["predictions"],
            ),
            run("monitoring", {"baseline": raw, "data": new}, ["monitoring"]),
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--image", default=None, help="job image tag (default: build/reuse)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    results = Results("localmode_overhead", __doc__.splitlines()[0], argv)

    if args.image is None:
        from mlmax.localmode.image.job_image import ensure_job_image

        args.image = ensure_job_image(progress=lambda m: print(f"  {m}", file=sys.stderr))
    host_times: dict[str, Samples] = {}
    local_times: dict[str, Samples] = {}
    floor_times = Samples()
    with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as temp:
        chain = Chain(Path(temp), args.rows)
        with LocalMode(image=args.image) as local:
            # Warm up untimed: engine and page cache, the SDK's imports, the first run.
            _floor(args.image)
            warm_up = chain.runs("warm-up", 0)[0]
            with contextlib.redirect_stdout(io.StringIO()):
                run_job(warm_up, image=local.image, session=local.session, code_dir=chain.noop_code)
            for repeat in range(args.repeats):
                _timed(lambda: _floor(args.image), floor_times)
                for host_run, local_run in zip(
                    chain.runs("host", repeat), chain.runs("local", repeat), strict=True
                ):
                    name = host_run.job.name
                    noop = chain.noop_code / "noop.py" if name == "noop" else None
                    _timed(partial(_host, host_run, noop), host_times.setdefault(name, Samples()))
                    code = {"code_dir": chain.noop_code} if name == "noop" else {}
                    in_container = partial(
                        run_job, local_run, image=local.image, session=local.session, **code
                    )
                    # The SDK streams compose's output to stdout: keep the table readable.
                    with contextlib.redirect_stdout(io.StringIO()):
                        _timed(in_container, local_times.setdefault(name, Samples()))
                    print(f"  repeat {repeat + 1}/{args.repeats}: {name} done", file=sys.stderr)

    floor = statistics.median(floor_times.values)
    table = f"each job, {args.rows:,} rows"
    results.add_median(
        "engine floor", "docker run --rm IMAGE python3 -c pass", "median", floor_times, "s"
    )
    print(f"\nLocal Mode overhead, image {args.image}, {args.rows} rows, median of {args.repeats}")
    print(f"engine floor (docker run --rm IMAGE python3 -c pass): {floor:.2f} s\n")
    rows = []
    for name, host in host_times.items():
        results.add_median(table, name, "host", host, "s")
        results.add_median(table, name, "Local Mode", local_times[name], "s")
        h, loc = statistics.median(host.values), statistics.median(local_times[name].values)
        results.add(table, name, "local/host", round(loc / h, 2), "x")
        results.add(table, name, "local - host", round(loc - h, 3), "s")
        ratios = [f"{loc / h:.1f}x", f"{loc - h:.2f}s", f"{loc / floor:.1f}x"]
        rows.append([name, f"{h:.2f}", f"{loc:.2f}", *ratios])
    headers = ["job", "host s", "local s", "local/host", "local-host", "local/floor"]
    print_table(headers, rows, right=(1, 2, 3, 4, 5))
    results.write(args.results)
    noop = statistics.median(local_times["noop"].values)
    verdict = "OK" if noop <= floor + 2.0 else "TOO SLOW"
    print(f"\nno-op job: {noop:.2f} s vs floor + 2 s = {floor + 2:.2f} s -> {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())

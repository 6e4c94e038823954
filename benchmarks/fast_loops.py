"""The fast loops side by side, in one run: every container path against its host pair.

Each figure is a whole process timed from the outside (start to exit, or to the ready line),
host and container interleaved per repeat, median of the repeats:

- `mlmax run preprocessing`: `--runner local` (its container) vs `--runner host`;
- one container test from a cold pytest start vs the same job by `mlmax run --runner host`;
- `--inspectlocal`: pytest start -> the `debugpy listening` ready line (nobody attaches; the
  run ends after `--inspect-timeout 5`);
- `mlmax pipeline`: local runner vs host runner;
- the raw SDK's defaults: a processing `run()` with its default `wait`/`logs` of a job that
  does nothing, vs the same job through mlmax (in one process, after a warm-up);
- the engine's floor: `docker run --rm IMAGE python3 -c pass`;
- with --unit-suite: the unit suite, serial and with `-n 2`.

    .venv/bin/python benchmarks/fast_loops.py [--repeats 3] [--unit-suite]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MLMAX = [PYTHON, "-m", "mlmax"]
CONTAINER_TEST = "tests/smlocal/test_chain.py::test_preprocessing_splits_generated_data"
CONTAINER_TEST_ROWS = 1500  # tests/smlocal/conftest.py's ROWS
READY = b"debugpy listening on"


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - started


def _until_ready(command: list[str]) -> float:
    """Seconds from start to the ready line; the process is then left to end on its own."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    assert process.stdout is not None
    ready_at = None
    for line in process.stdout:
        if ready_at is None and READY in line:
            ready_at = time.perf_counter() - started
    process.wait()
    if ready_at is None:  # shown as nan in the table, and said here
        print(f"  no ready line from {' '.join(command)}", file=sys.stderr)
        return math.nan
    return ready_at


class Measures:
    def __init__(self, root: Path, image: str) -> None:
        self.root = root
        self.image = image
        self.data = {}
        for rows in (5000, CONTAINER_TEST_ROWS):
            path = root / f"census-{rows}.csv"
            subprocess.run(
                [*MLMAX, "data", "generate", "--rows", str(rows), "--output", str(path)],
                check=True,
                capture_output=True,
            )
            self.data[rows] = path
        self.count = 0

    def _out(self) -> Path:
        self.count += 1
        return self.root / f"out-{self.count}"

    def run_job(self, runner: str, rows: int = 5000) -> float:
        out = self._out()
        return _timed(
            [
                *MLMAX,
                "run",
                "preprocessing",
                "--runner",
                runner,
                "--input",
                f"data={self.data[rows]}",
                "--output",
                f"train={out}/train",
                "--output",
                f"test={out}/test",
                "--output",
                f"proc_model={out}/model",
            ]
        )

    def _pytest(self, *extra: str) -> list[str]:
        """One container test, cold: a new pytest process with its own basetemp."""
        return [
            PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--smlocal",
            "--sm-image", self.image, f"--basetemp={self._out()}", *extra, CONTAINER_TEST,
        ]  # fmt: skip

    def container_test(self) -> float:
        return _timed(self._pytest())

    def inspect_ready(self) -> float:
        # Nobody attaches: the run ends five seconds after its ready line.
        return _until_ready(
            self._pytest("--inspectlocal", "--inspect-port", "0", "--inspect-timeout", "5")
        )

    def pipeline(self, runner: str) -> float:
        return _timed([*MLMAX, "pipeline", "--runner", runner, "--output", str(self._out())])

    def floor(self) -> float:
        return _timed(["docker", "run", "--rm", self.image, "python3", "-c", "pass"])

    def unit_suite(self, *extra: str) -> float:
        started = time.perf_counter()
        # Exit code 0 or 1 both give a time; a failing suite is printed, not hidden.
        done = subprocess.run(
            [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if done.returncode != 0:
            print(done.stdout[-2000:], file=sys.stderr)
        return time.perf_counter() - started


def sdk_defaults_vs_mlmax(image: str, repeats: int) -> tuple[list[float], list[float]]:
    """A no-op processing job: the SDK's run() with default wait/logs, and mlmax's run."""
    from localmode_overhead import NOOP  # benchmarks/ is on sys.path when run as a script

    from mlmax.catalog import JobRun
    from mlmax.localmode.runner import LocalMode, _Run, run_job

    with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as temp:
        code = Path(temp) / "code"
        code.mkdir()
        (code / "noop.py").write_text("pass\n")
        (Path(temp) / "data").mkdir()
        (Path(temp) / "data" / "x.csv").write_text("a\n1\n")
        run = JobRun(NOOP, inputs={"data": Path(temp) / "data"}, outputs={})
        sdk, ours = [], []
        with LocalMode(image=image) as local, contextlib.redirect_stdout(io.StringIO()):
            assert local.session is not None
            run_job(run, image=image, session=local.session, code_dir=code)  # warm-up
            for _ in range(repeats):
                state = _Run(
                    run,
                    image=image,
                    session=local.session,
                    debug=None,
                    environment=None,
                    code_dir=code,
                )
                step = state.build()
                started = time.perf_counter()
                try:
                    with local.session.pinned():
                        step.processor.run(**step.run_arguments)  # the SDK's defaults
                    sdk.append(time.perf_counter() - started)
                finally:
                    state.cleanup()
                started = time.perf_counter()
                run_job(run, image=image, session=local.session, code_dir=code)
                ours.append(time.perf_counter() - started)
    return sdk, ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unit-suite", action="store_true", help="also time the unit suite")
    args = parser.parse_args(argv)
    from mlmax.localmode.image import ensure_job_image

    image = ensure_job_image(progress=lambda m: print(f"  {m}", file=sys.stderr))
    samples: dict[str, list[float]] = {}

    def sample(name: str, measure: Callable[[], float]) -> None:
        samples.setdefault(name, []).append(measure())
        print(f"  {name}: {samples[name][-1]:.1f} s", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as temp:
        m = Measures(Path(temp), image)
        m.run_job("local")  # warm-up: page cache, engine
        for _ in range(args.repeats):
            sample("floor", m.floor)
            sample("run host", lambda: m.run_job("host"))
            sample("run local", lambda: m.run_job("local"))
            sample("run host 1500", lambda: m.run_job("host", CONTAINER_TEST_ROWS))
            sample("container test", m.container_test)
            sample("inspect ready", m.inspect_ready)
            sample("pipeline host", lambda: m.pipeline("host"))
            sample("pipeline local", lambda: m.pipeline("local"))
            if args.unit_suite:
                sample("unit serial", m.unit_suite)
                sample("unit -n 2", lambda: m.unit_suite("-n", "2"))
    sdk, ours = sdk_defaults_vs_mlmax(image, args.repeats)
    samples["sdk defaults"], samples["sdk mlmax"] = sdk, ours

    med = {name: statistics.median(values) for name, values in samples.items()}
    rows = [
        ("mlmax run preprocessing, 5,000 rows", med["run host"], med["run local"], 1.5),
        ("one container test, cold pytest", med["run host 1500"], med["container test"], 1.5),
        ("mlmax pipeline, 5,000 rows", med["pipeline host"], med["pipeline local"], 1.5),
        ("no-op job: mlmax vs SDK run() defaults", med["sdk mlmax"], med["sdk defaults"], None),
    ]
    load = os.getloadavg()
    print(f"\nmedian of {args.repeats}, image {image}, load {load[0]:.1f} {load[1]:.1f}")
    header = f"{'what':<42}{'host s':>8}{'local s':>9}{'ratio':>8}{'goal':>7}"
    print(header)
    print("-" * len(header))
    for what, host, local, goal in rows:
        target = f"{goal:.1f}x" if goal else ""
        print(f"{what:<42}{host:>8.2f}{local:>9.2f}{local / host:>7.1f}x{target:>7}")
    print(f"{'--inspectlocal: pytest start -> ready line':<42}{'':>8}{med['inspect ready']:>9.2f}")
    print(f"{'engine floor: docker run --rm python3':<42}{'':>8}{med['floor']:>9.2f}")
    if args.unit_suite:
        print(
            f"{'unit suite, serial / -n 2':<42}{med['unit serial']:>8.1f}{med['unit -n 2']:>9.1f}"
        )
    print("(no-op row: host s = through mlmax, local s = the SDK's own defaults)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The inner loops' measurements side by side, in one run, in one table (the entry point).

Each figure is a whole process timed from the outside (start to exit, or to the event named),
the pairs interleaved repeat by repeat so a change in the machine's load hits both alike,
median of the repeats; the ratio is container / host where there is a pair:

- `mlmax run preprocessing` (5,000 rows): `--runner local` (its container) vs `--runner host`;
- one container test from a cold pytest start vs the same job by `mlmax run --runner host`;
- `mlmax pipeline`: local runner vs host runner;
- `--inspectlocal` (a real DAP client, benchmarks/debug_startup.py): pytest start -> the
  ready line, and attach -> stopped at the first line of the job's `main`;
- Debug Test (the DAP client playing VS Code): launch -> first stop, and the child session's
  request -> that stop;
- the unit suite, serial and with `-n 2`;
- the raw SDK's defaults: a processing `run()` with its default `wait`/`logs` of a job that
  does nothing, vs the same job through mlmax (in one process, after a warm-up);
- the engine's floor: `docker run --rm IMAGE python3 -c pass`.

The figures go to benchmarks/results/fast_loops.json (benchmarks/results.py), each with its
date, commit and load average; the documentation's benchmark page is rendered from it.

    .venv/bin/python benchmarks/fast_loops.py [--repeats 3] [--skip unit,debug,...] [--markdown]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from results import RESULTS, Results, Samples  # benchmarks/ is on sys.path as a script

from mlmax.common.tables import print_table, render

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MLMAX = [PYTHON, "-m", "mlmax"]
CONTAINER_TEST = "tests/localmode/run/test_chain.py::test_preprocessing_splits_generated_data"
CONTAINER_TEST_ROWS = 1500  # tests/localmode/conftest.py's ROWS


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - started


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


def sdk_defaults_vs_mlmax(image: str, repeats: int) -> tuple[Samples, Samples]:
    """A no-op processing job: the SDK's run() with default wait/logs, and mlmax's run."""
    from localmode_overhead import NOOP  # benchmarks/ is on sys.path when run as a script

    from mlmax.localmode.run.container_run import ContainerRun, run_job
    from mlmax.localmode.run.lifecycle import LocalRun
    from mlmax.localmode.run.local_mode import LocalMode
    from mlmax.project.catalog import JobRun

    with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as temp:
        code = Path(temp) / "code"
        code.mkdir()
        (code / "noop.py").write_text("pass\n")
        (Path(temp) / "data").mkdir()
        (Path(temp) / "data" / "x.csv").write_text("a\n1\n")
        run = JobRun(NOOP, inputs={"data": Path(temp) / "data"}, outputs={})
        sdk, ours = Samples(), Samples()
        with LocalMode(image=image) as local, contextlib.redirect_stdout(io.StringIO()):
            assert local.session is not None
            run_job(run, image=image, session=local.session, code_dir=code)  # warm-up
            for _ in range(repeats):
                with LocalRun(local.session, run.job.name, image=image) as lifecycle:
                    state = ContainerRun(
                        run, lifecycle, image=image, debug=None, environment=None, code_dir=code
                    )
                    step = state.build()
                    started = time.perf_counter()
                    with local.session.pinned():
                        step.processor.run(**step.run_arguments)  # the SDK's defaults
                    sdk.add(time.perf_counter() - started)
                started = time.perf_counter()
                run_job(run, image=image, session=local.session, code_dir=code)
                ours.add(time.perf_counter() - started)
    return sdk, ours


GROUPS = ("run", "test", "pipeline", "debug", "unit", "sdk", "floor")


def measure_all(repeats: int, skip: set[str]) -> dict[str, Samples]:
    """Every measure of the groups not skipped, `repeats` times, interleaved."""
    from mlmax.localmode.image.job_image import ensure_job_image

    image = ensure_job_image(progress=lambda m: print(f"  {m}", file=sys.stderr))
    samples: dict[str, Samples] = {}

    def sample(group: str, name: str, measure: Callable[[], float]) -> None:
        if group not in skip:
            value = samples.setdefault(name, Samples()).add(measure())
            print(f"  {name}: {value:.2f} s", file=sys.stderr, flush=True)

    def debug(group: str, measure: Callable[[Path], dict[str, float]]) -> None:
        if group in skip:
            return
        with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as work:
            for name, value in measure(Path(work)).items():
                samples.setdefault(name, Samples()).add(value)
                print(f"  {name}: {value:.2f} s", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="mlmax-bench-") as temp:
        m = Measures(Path(temp), image)
        m.run_job("local")  # warm-up: page cache, engine
        for _ in range(repeats):
            sample("floor", "floor", m.floor)
            sample("run", "run host", lambda: m.run_job("host"))
            sample("run", "run local", lambda: m.run_job("local"))
            sample("test", "run host 1500", lambda: m.run_job("host", CONTAINER_TEST_ROWS))
            sample("test", "container test", m.container_test)
            if "debug" not in skip:
                from debug_startup import debug_test_once, inspect_once

                debug("debug", inspect_once)
                debug("debug", debug_test_once)
            sample("pipeline", "pipeline host", lambda: m.pipeline("host"))
            sample("pipeline", "pipeline local", lambda: m.pipeline("local"))
            sample("unit", "unit serial", m.unit_suite)
            sample("unit", "unit -n 2", lambda: m.unit_suite("-n", "2"))
    if "sdk" not in skip:
        samples["sdk defaults"], samples["sdk mlmax"] = sdk_defaults_vs_mlmax(image, repeats)
    return samples


# The table: (what, the host or reference sample, the container sample, goal).
ROWS = (
    ("mlmax run preprocessing, 5,000 rows", "run host", "run local", "1.5x"),
    ("container test, cold pytest (host: mlmax run)", "run host 1500", "container test", "1.5x"),
    ("mlmax pipeline, 5,000 rows", "pipeline host", "pipeline local", "1.5x"),
    ("inspect: pytest start -> ready line", None, "inspect: pytest start -> ready line", "3 s"),
    ("inspect: attach -> first line of main", None, "inspect: attach -> main", "1 s"),
    ("Debug Test: launch -> first line of main", None, "Debug Test: launch -> main", ""),
    ("Debug Test: child request -> main", None, "Debug Test: child request -> main", "1 s"),
    ("unit suite, serial", "unit serial", None, "60 s"),
    ("unit suite, -n 2", "unit -n 2", None, "35 s"),
    ("no-op job: mlmax (host s) vs SDK run() defaults (local s)", "sdk mlmax", "sdk defaults", ""),
    ("engine floor: docker run --rm IMAGE python3 -c pass", None, "floor", ""),
)  # fmt: skip
TABLE = "inner loops"


def record(samples: dict[str, Samples], results: Results) -> list[list[str]]:
    """Each row's medians (and their ratio) as figures; the rows as printed."""
    printed = []
    for what, host, local, goal in ROWS:
        cells = [what]
        medians = {}
        for column, name in (("host", host), ("local", local)):
            if name in samples:
                results.add_median(TABLE, what, column, samples[name], "s")
                medians[column] = results.figures[-1]["value"]
            cells.append(f"{medians[column]:.2f}" if column in medians else "")
        if "host" in medians and "local" in medians:
            ratio = medians["local"] / medians["host"]
            results.add(TABLE, what, "local/host", round(ratio, 2), "x", note=_goal(goal))
            cells.append(f"{ratio:.1f}x")
        else:
            cells.append("")
            if goal and medians:
                results.figures[-1]["note"] = _goal(goal)
        if len(cells) > 1 and any(cells[1:3]):
            printed.append([*cells, goal])
    return printed


def _goal(goal: str) -> str:
    return f"goal {goal}" if goal else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--skip", default="", help=f"comma-separated groups not to measure: {', '.join(GROUPS)}"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    skip = {group for group in args.skip.split(",") if group}
    if skip - set(GROUPS):
        parser.error(f"unknown group(s) {', '.join(sorted(skip - set(GROUPS)))}")
    results = Results("fast_loops", __doc__.splitlines()[0], argv)
    samples = measure_all(args.repeats, skip)
    headers = ["what", "host s", "local s", "local/host", "goal"]
    rows = record(samples, results)
    results.write(args.results)
    print(f"\nmedian of {args.repeats} per figure")
    if args.markdown:
        print(render(headers, rows, right=(1, 2, 3), markdown=True))
    else:
        print_table(headers, rows, right=(1, 2, 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())

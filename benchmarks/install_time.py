"""How long does a user's install of mlmax's wheel take? Plain pip and uv, side by side.

Builds the wheel (`python -m build`, from a copy of the sources), then for each installer
installs it once into a throwaway virtualenv to warm that installer's cache (what a user who
installed anything before has; the download is not what is measured), then `--repeats`
times into a fresh virtualenv, pip and uv interleaved so a change in the machine's load hits
both alike. Each install resolves from scratch, with no lock or constraints file, as a user's
does:

- pip: `python -m pip install mlmax-*.whl` in a `python -m venv --upgrade-deps` venv (pip's
  current release; its creation is not timed);
- uv: `uv pip install --python VENV/bin/python mlmax-*.whl` in a `uv venv` venv.

Prints a table (median, min and max seconds, the target, CPU seconds, packages installed,
the packages pip backtracked over) and writes the figures, each with its load average, date
and commit, to benchmarks/results/install_time.json (benchmarks/results.py).

    .venv/bin/python benchmarks/install_time.py [--repeats 3] [--extras pipelines]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import RESULTS, Results, Samples

from mlmax.common import print_table

REPO = Path(__file__).resolve().parents[1]
TABLE = "A fresh virtualenv, cache warm"
# The targets a fresh install should meet on this 2-core machine, cache warm.
TARGET_SECONDS = {"pip": 90.0, "uv": 20.0}
# pip says this once per package whose versions it walks back through.
BACKTRACK = re.compile(r"INFO: pip is looking at multiple versions of (\S+)")
UV = [sys.executable, "-m", "uv"]


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def build_wheel(work: Path) -> Path:
    """mlmax's wheel, built from a copy of the sources (building writes into its source)."""
    sources = work / "src"
    sources.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, sources / name)
    for package in ("mlmax", "mlmax_census"):  # the tool and the census sample: one wheel
        shutil.copytree(
            REPO / package, sources / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(sources)])
    [wheel] = (work / "dist").glob("mlmax-*.whl")
    return wheel


def _new_venv(installer: str, path: Path) -> Path:
    if installer == "pip":
        _run([sys.executable, "-m", "venv", "--upgrade-deps", str(path)])
    else:
        _run([*UV, "venv", "--quiet", "--python", sys.executable, str(path)])
    return path / "bin" / "python"


def _install_command(installer: str, python: Path, requirement: str) -> list[str]:
    if installer == "pip":
        return [str(python), "-m", "pip", "install", "--disable-pip-version-check", requirement]
    return [*UV, "pip", "install", "--python", str(python), requirement]


def installer_version(installer: str, python: Path) -> str:
    command = [str(python), "-m", "pip", "--version"] if installer == "pip" else [*UV, "--version"]
    return _run(command).stdout.split()[1]


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def install_once(installer: str, requirement: str, work: Path) -> dict[str, object]:
    """One timed install into a fresh venv, which is removed afterwards."""
    venv = Path(tempfile.mkdtemp(prefix=f"{installer}-", dir=work))
    try:
        python = _new_venv(installer, venv)
        load_before, cpu_before = _load(), resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = _run(_install_command(installer, python, requirement))
        seconds = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        packages = json.loads(_run([*UV, "pip", "list", "--python", str(python),
                                    "--format", "json"]).stdout)  # fmt: skip
        return {
            "installer": installer,
            "version": installer_version(installer, python),
            "seconds": round(seconds, 1),
            "cpu_seconds": round(
                cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
                1,
            ),
            "load_before": load_before,
            "load_after": _load(),
            "packages": len(packages),
            "backtracked": sorted(set(BACKTRACK.findall(done.stdout + done.stderr))),
        }
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def measure(repeats: int, extras: str) -> tuple[str, list[dict[str, object]]]:
    """The wheel's name and one record per timed install, pip and uv interleaved."""
    with tempfile.TemporaryDirectory(prefix="mlmax-install-time-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work)
        requirement = f"mlmax[{extras}] @ {wheel.as_uri()}" if extras else str(wheel)
        for installer in TARGET_SECONDS:  # warm each installer's cache
            print(f"warm-up install with {installer} ...", file=sys.stderr, flush=True)
            install_once(installer, requirement, work)
        runs = []
        for repeat in range(repeats):
            for installer in TARGET_SECONDS:
                print(f"[{repeat + 1}/{repeats}] {installer} ...", file=sys.stderr, flush=True)
                runs.append(install_once(installer, requirement, work))
    return wheel.name, runs


def _samples(runs: list[dict], key: str) -> Samples:
    """The runs' figures under `key`, with the load average at each run's start and end."""
    samples = Samples()
    for run in runs:
        samples.values.append(run[key])
        samples.loads += [run["load_before"][0], run["load_after"][0]]
    return samples


def record(results: Results, wheel: str, extras: str, runs: list[dict]) -> list[list[str]]:
    """Each installer's figures into `results`; the rows of the printed table."""
    table = f"{f'mlmax[{extras}]' if extras else 'mlmax'} into a fresh virtualenv, cache warm"
    rows = []
    for installer, target in TARGET_SECONDS.items():
        mine = [run for run in runs if run["installer"] == installer]
        what = f"{installer} {mine[0]['version']}: install {wheel}"
        seconds, cpu = _samples(mine, "seconds"), _samples(mine, "cpu_seconds")
        backtracked = ", ".join(sorted({n for run in mine for n in run["backtracked"]}))
        note = f"target {target:.0f} s; {mine[0]['packages']} packages"
        if installer == "pip":
            note += f"; backtracked over: {backtracked or 'nothing'}"
        results.add(table, what, "seconds", statistics.median(seconds.values), "s",
                    samples=seconds, note=note)  # fmt: skip
        results.add_median(table, what, "CPU seconds", cpu, "s")
        median = statistics.median(seconds.values)
        rows.append([
            f"{installer} {mine[0]['version']}",
            f"{median:.1f}",
            f"{min(seconds.values):.1f}-{max(seconds.values):.1f}",
            f"<= {target:.0f}" + ("" if median <= target else "  MISSED"),
            f"{statistics.median(cpu.values):.1f}",
            str(mine[0]["packages"]),
            backtracked or ("none" if installer == "pip" else ""),
        ])  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="timed installs per installer")
    parser.add_argument("--extras", default="", help="install mlmax[EXTRAS] instead")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    results = Results("install_time", __doc__.splitlines()[0], argv)
    wheel, runs = measure(args.repeats, args.extras)
    rows = record(results, wheel, args.extras, runs)
    results.extra["python"] = sys.version.split()[0]
    results.extra["runs"] = runs
    print(f"\n{wheel} into a fresh venv, cache warm; median of {args.repeats}; "
          f"{os.cpu_count()} cores")  # fmt: skip
    headers = ["installer", "seconds", "min-max", "target", "CPU s", "packages", "backtracked"]
    print_table(headers, rows, right=(1, 2, 4, 5))
    loads = [run["load_before"][0] for run in runs]
    print(f"load average (1 min) at each start: {' '.join(f'{x:.2f}' for x in loads)}")
    results.write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

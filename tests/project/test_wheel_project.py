"""mlmax as another project uses it: its wheel in a fresh virtualenv, that project's tests.

Builds mlmax's wheel from a copy of the sources, installs it without extras into a new
virtualenv (with uv, the installer pinned in requirements.lock, at the lock's versions: from
its cache in seconds; a user's `pip install mlmax-*.whl` installs the same, see
benchmarks/install_time.py), copies examples/churnlab (its own package, job scripts,
requirements and job image) and runs its `pytest --smlocal` there, then an inspect run of its
processing job with a real DAP client stopping in its own script. The census sample's stack
is not mlmax's to bring: what of it the venv holds, the SageMaker SDK requires, and the
project's host side imports none of it. Nothing is written into the source tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.pytest_plugin.test_debug_test import _stop_read_continue
from tests.pytest_plugin.test_inspect_mode import _debug_session
from tests.support.inspect_driver import READY, InspectRun, line_of
from tests.support.package_index import index_environment
from tests.support.vscode_debug import DebugTest

pytestmark = pytest.mark.smlocal

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "churnlab"
CLEAN_TEST = "tests/test_jobs_in_containers.py::test_clean_in_its_container_matches_the_host"
# The variables a developer's shell might carry that would make the new venv see this repo.
_LEAKY = ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "VIRTUAL_ENV", "PYTHONHOME")


# The census sample's stack (mlmax's census extra) as distribution -> import name.
CENSUS_STACK = {
    "pandas": "pandas",
    "numpy": "numpy",
    "scikit-learn": "sklearn",
    "joblib": "joblib",
    "matplotlib": "matplotlib",
    "waitress": "waitress",
}
# Run in the new venv: mlmax's own requirements without extras, the distributions the SDK's
# requirements reach (markers evaluated there), and which import names can be found.
_INSPECT_THE_VENV = """
import importlib.metadata as md, importlib.util, json, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as name_of

def requirements(dist, extra=""):
    found = []
    for line in md.requires(dist) or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": extra}):
            found.append(req)
    return found

def reached_from(roots):
    seen, todo = set(), list(roots)
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            todo += [name_of(r.name) for r in requirements(dist)]
        except md.PackageNotFoundError:
            pass
    return seen

mlmax = [name_of(r.name) for r in requirements("mlmax")]
print(json.dumps({
    "mlmax": mlmax,
    "extras": md.metadata("mlmax").get_all("Provides-Extra"),
    "sdk_reaches": sorted(reached_from([d for d in mlmax if d.startswith("sagemaker")])),
    "importable": {m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]},
}))
"""


def _run(
    command: list[str], *, cwd: Path, timeout: float, code: int = 0, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = index_environment({k: v for k, v in os.environ.items() if k not in _LEAKY})
    environment.update(env)
    done = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == code, (
        f"{command} exited with {done.returncode}, not {code}:\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def _timed(timings: dict[str, float], name: str, command: list[str], **kwargs):
    started = time.monotonic()
    done = _run(command, **kwargs)
    timings[name] = time.monotonic() - started
    return done


def _sources(destination: Path) -> Path:
    """What the wheel is built from, copied: building writes build/ and *.egg-info."""
    destination.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, destination / name)
    for package in ("mlmax", "mlmax_census"):  # the tool and the census sample: one wheel
        shutil.copytree(
            REPO / package, destination / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A fresh virtualenv with mlmax's wheel and a copy of the example project."""
    root = tmp_path_factory.mktemp("wheel")
    timings: dict[str, float] = {}
    sources = _sources(root / "src")
    _timed(timings, "build the wheel", [sys.executable, "-m", "build", "--wheel",
           "--outdir", str(root / "dist"), str(sources)], cwd=root, timeout=600)  # fmt: skip
    [wheel] = sorted((root / "dist").glob("mlmax-*.whl"))
    _timed(timings, "create the venv", [sys.executable, "-m", "venv", str(root / "venv")],
           cwd=root, timeout=300)  # fmt: skip
    python = root / "venv" / "bin" / "python"
    _timed(timings, "install the wheel", [sys.executable, "-m", "uv", "pip", "install",
           "--quiet", "--python", str(python), str(wheel), "-c", str(REPO / "requirements.lock")],
           cwd=root, timeout=1200)  # fmt: skip
    project = root / "churnlab"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    yield {"python": python, "project": project, "timings": timings}
    print("\n[timing] " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


def test_the_wheel_ships_the_image_assets_and_declarations(installed):
    done = _run(
        [str(installed["python"]), "-c",
         "import mlmax.localmode.image.job_image as i, mlmax.project.catalog as c;"
         "print(i.recipe_dir()); print(c.JOBS['train'].script_path)"],
        cwd=installed["project"], timeout=120,
    )  # fmt: skip
    assets, train_script = (Path(line) for line in done.stdout.split())
    assert "site-packages" in assets.parts and not assets.is_relative_to(REPO)
    assert {p.name for p in assets.iterdir()} == {
        "install.sh",
        "install-debugpy.sh",
        "image.toml",
        "requirements.txt",
        "requirements-debug.txt",
        "serve",
    }
    assert train_script.is_file() and "site-packages" in train_script.parts


@pytest.fixture(scope="module")
def inventory(installed) -> dict:
    modules = [*CENSUS_STACK.values(), "sagemaker.mlops"]
    done = _run([str(installed["python"]), "-c", _INSPECT_THE_VENV, *modules],
                cwd=installed["project"], timeout=120)  # fmt: skip
    return json.loads(done.stdout)


def test_the_wheel_brings_the_tool_not_the_census_stack(inventory):
    assert not set(inventory["mlmax"]) & {*CENSUS_STACK, "sagemaker-mlops", "sagemaker"}
    assert {"sagemaker-core", "sagemaker-train", "moto", "pytest"} <= set(inventory["mlmax"])
    assert {"census", "pipelines", "dev"} <= set(inventory["extras"])
    # What of the stack is here, the SDK's own requirements brought (sagemaker-core requires
    # pandas and numpy, sagemaker-train requires mlflow, which requires scikit-learn and
    # matplotlib): the day the SDK drops one, it is absent here too.
    importable, sdk = inventory["importable"], inventory["sdk_reaches"]
    for dist, module in CENSUS_STACK.items():
        assert importable[module] == (dist in sdk), (dist, sdk)
    assert importable["waitress"] is False
    assert importable["sagemaker.mlops"] is False


def _names_the_extra(done: subprocess.CompletedProcess[str], extra: str) -> bool:
    return (
        done.stderr.count("\n") == 1
        and done.stderr.startswith("error: `mlmax ")
        and done.stderr.rstrip().endswith(f"pip install 'mlmax[{extra}]'")
    )


def test_a_command_without_its_extra_names_it(installed, tmp_path):
    argv = ["pipeline", "export", "--output", "p.json", "--role", "r", "--bucket", "b",
            "--image", "i"]  # fmt: skip
    done = _run([str(installed["python"]), "-m", "mlmax", *argv], cwd=tmp_path, timeout=120,
                code=2)  # fmt: skip
    assert _names_the_extra(done, "pipelines"), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_command_runs_when_what_it_imports_is_there(installed, inventory, tmp_path):
    # `mlmax data generate` imports pandas and numpy only: without the census extra it runs
    # wherever the SDK brought them, and names the extra where it did not.
    there = all(inventory["importable"][m] for m in ("pandas", "numpy"))
    argv = ["data", "generate", "--rows", "5", "--output", "data.csv"]
    done = _run([str(installed["python"]), "-m", "mlmax", *argv], cwd=tmp_path, timeout=120,
                code=0 if there else 2)  # fmt: skip
    if there:
        assert len((tmp_path / "data.csv").read_text().splitlines()) == 6
    else:
        assert _names_the_extra(done, "census"), done.stderr


# Loaded into the project's pytest (-p): which modules its process imported, at its end.
_SEEN_MODULES_PLUGIN = """
import os, sys
def pytest_unconfigure(config):
    with open(os.environ["MLMAX_TEST_SEEN_MODULES"], "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
"""


def test_the_outside_project_passes_its_container_tests(installed, tmp_path):
    report = tmp_path / "junit.xml"
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "seen_modules.py").write_text(_SEEN_MODULES_PLUGIN)
    seen = tmp_path / "seen.txt"
    started = time.monotonic()
    done = _run(
        [str(installed["python"]), "-m", "pytest", "--smlocal", "-p", "no:cacheprovider",
         "-p", "seen_modules", f"--junitxml={report}", f"--basetemp={tmp_path / 'run'}"],
        cwd=installed["project"], timeout=1800,
        PYTHONPATH=str(plugin), MLMAX_TEST_SEEN_MODULES=str(seen),
    )  # fmt: skip
    installed["timings"]["the project's pytest --smlocal"] = time.monotonic() - started
    # The host side (mlmax, the SDK's Local Mode, the project's tests) needs no ML stack:
    # the jobs' own imports ran in their containers.
    top_level = {name.split(".")[0] for name in seen.read_text().split()}
    assert "mlmax" in top_level and "sagemaker" in top_level
    assert not top_level & {"sklearn", "matplotlib", "joblib", "waitress", "mlflow"}
    # Nor does it import the census sample: the tool reaches it only by name, for its commands.
    assert "mlmax_census" not in top_level

    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "0")
    assert suite.get("skipped") == "0", "a container test was skipped"
    assert "container tests (marker smlocal): 4 passed, 0 failed, 0 skipped" in done.stdout
    # The project's own image, tagged per project, is the one its jobs ran in.
    assert re.search(r"mlmax-job-churnlab:[0-9a-f]{12}", _images())


def _images() -> str:
    return subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_an_inspect_run_stops_in_the_projects_own_script(installed, tmp_path):
    project: Path = installed["project"]  # type: ignore[assignment]
    script = project / "src" / "churnlab" / "jobs" / "clean.py"
    line = line_of(script, "output = Path(args.output_dir)")
    run = InspectRun(
        [CLEAN_TEST, "--smlocal", "--inspectlocal", "--inspect-port", "0"],
        command=[str(installed["python"]), "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        basetemp=tmp_path / "run",
        cwd=project,
    )
    try:
        _, ready = run.wait_for(READY, timeout=600)
        assert ready["job"] == "clean" and ready["code"] == "/opt/ml/processing/input/code"
        # The mapping comes from the job's declaration: its code root to its source folder.
        mappings = [{"localRoot": str(script.parent), "remoteRoot": ready["code"]}]
        seen = _debug_session(int(ready["port"]), script, line, "rows", "len(rows)", mappings)
        assert (seen["path"], seen["line"]) == (script, line)
        assert seen["expression"] == "200"
        assert run.process.wait(timeout=600) == 0, run.output
    finally:
        run.close()


def test_debug_test_stops_in_the_projects_own_script(installed, tmp_path):
    """VS Code's Debug Test on the project's container test, with the .vscode files
    `mlmax vscode` wrote for it: the job opens as a child session mapped to churnlab's code."""
    project: Path = installed["project"]  # type: ignore[assignment]
    python = str(installed["python"])
    _run([python, "-m", "mlmax", "vscode"], cwd=project, timeout=120)
    script = project / "src" / "churnlab" / "jobs" / "clean.py"
    line = line_of(script, "output = Path(args.output_dir)")
    extra = ["-p", "no:cacheprovider", f"--basetemp={tmp_path / 'run'}"]
    with DebugTest(
        CLEAN_TEST, extra, tmp_path / "terminal.log", workspace=project, python=python
    ) as session:
        session.start()
        configuration = session.next_child_request(600)
        assert configuration is not None, session.output
        assert configuration["pathMappings"] == [
            {"localRoot": str(script.parent), "remoteRoot": "/opt/ml/processing/input/code"}
        ]
        child = session.open_child(configuration, {script: [line]})
        # The declared default arguments reached the script in its container.
        assert "min_tenure=1.0" in _stop_read_continue(child, script, line, "args")
        assert session.next_child_request(300) is None  # one job, then the session ends
        assert session.wait_terminal(300) == 0, session.output
    assert "1 passed" in session.output

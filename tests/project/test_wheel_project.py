"""mlmax as another project uses it: its wheel in a fresh virtualenv, that project's tests.

Builds mlmax's wheel from a copy of the sources, installs it into a new virtualenv (with uv,
the installer pinned in requirements.lock, at the lock's versions: from its cache in
seconds, where pip took minutes; a user's `pip install mlmax-*.whl` installs the same), copies
examples/churnlab (its own package, job scripts, requirements and job image) and runs its
`pytest --smlocal` there, then an inspect run of its processing job with a real DAP client
stopping in its own script. Nothing is written into the source tree.
"""

from __future__ import annotations

import functools
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
from tests.support.vscode_debug import DebugTest

pytestmark = pytest.mark.smlocal

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "churnlab"
CLEAN_TEST = "tests/test_jobs_in_containers.py::test_clean_in_its_container_matches_the_host"
# The variables a developer's shell might carry that would make the new venv see this repo.
_LEAKY = ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "VIRTUAL_ENV", "PYTHONHOME")


@functools.cache
def _pip_cert() -> str | None:
    """The CA bundle pip is given, if any, in the order pip ranks its settings (PIP_CERT,
    then `cert` in pip.conf's [install] and [global] sections), as scripts/setup.sh reads it."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, check=False).stdout  # fmt: skip
    settings = dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)
    for key in (":env:.cert", "install.cert", "global.cert"):
        if key in settings:
            return settings[key].strip("'")
    return None


def _run(command: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    # uv behind a proxy that inspects TLS, as scripts/setup.sh sets it up: the system's store,
    # and pip's bundle where pip has one; a login shell's environment carries neither.
    env.setdefault("UV_SYSTEM_CERTS", "true")
    if "SSL_CERT_FILE" not in env and (cert := _pip_cert()):
        env["SSL_CERT_FILE"] = cert
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
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
    shutil.copytree(
        REPO / "mlmax", destination / "mlmax", ignore=shutil.ignore_patterns("__pycache__")
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


def test_the_outside_project_passes_its_container_tests(installed, tmp_path):
    report = tmp_path / "junit.xml"
    started = time.monotonic()
    done = _run(
        [str(installed["python"]), "-m", "pytest", "--smlocal", "-p", "no:cacheprovider",
         f"--junitxml={report}", f"--basetemp={tmp_path / 'run'}"],
        cwd=installed["project"], timeout=1800,
    )  # fmt: skip
    installed["timings"]["the project's pytest --smlocal"] = time.monotonic() - started

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

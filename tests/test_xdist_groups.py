"""The suite's `-n 2 --dist loadgroup` keeps each group on one worker
(tests/support/xdist_groups.py), and starts the tests marked longest before the other single tests.

Run on a small project with the suite's own grouping hook: a group named by a mark and
spread over two files (as the default debug port's tests are) runs on one worker, and a
module-scoped fixture is built once, not once per test that uses it. Both fail silently
when xdist's grouping does not take effect (as with pytest 9.2 and pytest-xdist 3.8).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.inner_pytest import isolate

REPO = Path(__file__).resolve().parents[1]

CONFTEST = """
import pytest
from tests.support.xdist_groups import order_for_two_workers

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    order_for_two_workers(items)
"""

# Each build of the fixture, and each test of the named group, leaves its worker's name.
SHARED = """
import os
import pytest

@pytest.fixture(scope="module")
def built():
    with open(os.environ["BUILDS"], "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")

@pytest.mark.parametrize("n", range(6))
def test_uses_it(built, n):
    pass
"""

GROUPED = """
import os
import pytest

@pytest.mark.xdist_group("one-port")
@pytest.mark.parametrize("n", range(5))
def test_in_the_group(n):
    with open(os.environ["GROUPED"], "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""

# Collected last, marked as the suite marks its longest tests: it must start before the cheap
# single tests, right after the groups.
LONG = """
import os
import pytest

@pytest.mark.longest
def test_long():
    with open(os.environ["ORDER"], "a") as log:
        log.write("long\\n")
"""

# Cheap tests between the others: what made a worker tear a module fixture down between
# two of its users, and what a second worker takes while the first runs a group.
OTHERS = """
import os
import pytest

@pytest.mark.parametrize("n", range(20))
def test_cheap(n):
    with open(os.environ["ORDER"], "a") as log:
        log.write("cheap\\n")
"""


def test_groups_and_module_fixtures_stay_on_one_worker(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    isolate(project)
    files = {
        "conftest.py": CONFTEST,
        "test_a_others.py": OTHERS,
        "test_b_shared.py": SHARED,
        "test_c_grouped.py": GROUPED,
        "test_d_others.py": OTHERS,
        "test_e_grouped.py": GROUPED,
        "test_f_long.py": LONG,
    }
    for name, text in files.items():
        (project / name).write_text(text)
    builds, grouped, order = (tmp_path / name for name in ("builds", "grouped", "order"))
    logs = {"BUILDS": str(builds), "GROUPED": str(grouped), "ORDER": str(order)}
    env = {**os.environ, **logs, "PYTHONPATH": str(REPO)}
    # Only xdist matters here: mlmax's plugin and coverage would only slow each worker's start.
    plugins_off = ["-p", "no:cacheprovider", "-p", "no:mlmax", "-p", "no:cov"]
    argv = [sys.executable, "-m", "pytest", "-q", *plugins_off, "-n", "2"]
    done = subprocess.run(
        [*argv, "--dist", "loadgroup"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "57 passed" in done.stdout, done.stdout
    assert len(builds.read_text().splitlines()) == 1, builds.read_text()
    workers = grouped.read_text().splitlines()
    assert len(workers) == 10 and len(set(workers)) == 1, workers
    started = order.read_text().splitlines()
    assert started[0] == "long" and started.count("cheap") == 40, started

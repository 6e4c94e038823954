"""Tests that cannot share the engine or the machine with each other under pytest-xdist.

`.ci/run` and the README run the suite with `-n 2 --dist loadgroup`: every test marked with
one of these groups runs on the same worker as the others of its group, one after another.
The tests of a module that share a module-scoped fixture are grouped too
(`keep_module_fixtures_on_one_worker`, called from tests/conftest.py). Everything else is
made safe to run side by side (ports chosen by the OS, one session directory and S3 server
per process, leak checks scoped to the test's own session or owner labels).
"""

from __future__ import annotations

import pytest

# The default debug port, 127.0.0.1:5678, is one per machine: the VS Code tasks that listen
# on it (the task's exact command cannot choose another), and the `mlmax doctor` checks that
# need it free, would see each other.
DEFAULT_DEBUG_PORT = pytest.mark.xdist_group("default-debug-port-5678")

# `mlmax image prune` (prune_job_images) removes every job image of the engine that is not
# current, which is its job: a test building a variant image would lose it mid-test to a
# prune on the other worker.
JOB_IMAGE_BUILDS = pytest.mark.xdist_group("job-image-builds")

# Tests that run something as the second user (tests/support/other_user.py) open the
# directories above the interpreter to it and close them again when done: one closing them
# would cut off the other's user half-way.
OTHER_USER = pytest.mark.xdist_group("other-user")

# Not a collision: a test that takes minutes (a dev container, a second user's whole session)
# is started early, right after the groups, so that no worker is left running it alone at
# the end while the other idles (`start_the_longest_first`).
LONGEST = pytest.mark.longest

# Not a collision: the tests that read the unit-tests task's whole-tree collection share one
# session fixture (tests/workspace/conftest.py), so on one worker the tree is collected once.
WHOLE_TREE_COLLECTION = pytest.mark.xdist_group("whole-tree-collection")


def keep_module_fixtures_on_one_worker(items: list[pytest.Item]) -> None:
    """Group the tests of a module that share a module-scoped fixture on one worker.

    pytest tears a module fixture down as soon as a worker runs a test of another module,
    so under `--dist loadgroup` (which hands out ungrouped tests one by one) a fixture that
    runs a whole pipeline was built once per test that used it: the runner-parity pair of
    pipelines three times (27 s each). Grouped, each module's fixtures are built once, and
    the larger groups are handed out first (xdist orders work units by size), so the long
    modules start early. A test already in a group of its own keeps that group only:
    xdist would merge both names into a new group and break the guarantee the first gives.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        fixture_info = getattr(item, "_fixtureinfo", None)  # pytest.Function's fixture closure
        if fixture_info is None:
            continue
        scopes = {defs[-1].scope for defs in fixture_info.name2fixturedefs.values() if defs}
        if "module" in scopes:
            module = item.nodeid.split("::")[0]
            item.add_marker(pytest.mark.xdist_group(f"module {module}"))


def start_the_longest_first(items: list[pytest.Item]) -> None:
    """Move the tests marked LONGEST to the front (a stable sort keeps every other order).

    xdist hands out the groups first, largest first, then single tests in collection order:
    a long test collected last (tests/workspace/) would otherwise start last.
    """
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)


def order_for_two_workers(items: list[pytest.Item]) -> None:
    """What tests/conftest.py does to the collection before xdist reads it."""
    keep_module_fixtures_on_one_worker(items)
    start_the_longest_first(items)

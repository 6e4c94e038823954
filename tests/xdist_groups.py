"""Tests that cannot share the engine or the machine with each other under pytest-xdist.

`.ci/run` and the README run the suite with `-n 2 --dist loadgroup`: every test marked with
one of these groups runs on the same worker as the others of its group, one after another.
Everything else is made safe to run side by side (ports chosen by the OS, one session
directory and S3 server per process, leak checks scoped to the test's own session or owner
labels).
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

# Not a collision: the tests that read the unit-tests task's whole-tree collection share one
# session fixture (tests/workspace/conftest.py), so on one worker the tree is collected once.
WHOLE_TREE_COLLECTION = pytest.mark.xdist_group("whole-tree-collection")

"""Helpers for tests that run pytest itself on a small project in a temporary directory."""

from __future__ import annotations

from pathlib import Path


def isolate(project: Path) -> None:
    """Make `project` its own pytest root, as a user's project is.

    Without an ini file pytest takes the nearest one above the project: the workspace's,
    when the temporary directory lies inside a workspace (as in the dev container), and
    then node ids, rootdir and options are the workspace's rather than the project's.
    """
    (project / "pytest.ini").write_text("[pytest]\n")

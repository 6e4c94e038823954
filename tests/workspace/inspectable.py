"""List the container tests the inspect task offers: `python -m tests.workspace.inspectable`.

A test can be inspected when it is marked `smlocal` and runs jobs through the plugin's
`sm_localmode` fixture (what `--inspectlocal` puts under debugpy). Prints one node ID a line;
.vscode/tasks.json's `containerTest` pick list must name exactly these (a test checks it).
"""

from __future__ import annotations

import sys

import pytest

RUNNER_FIXTURE = "sm_localmode"
MARKER = "smlocal"


class _Collector:
    def __init__(self) -> None:
        self.node_ids: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.node_ids = [
            item.nodeid
            for item in items
            if item.get_closest_marker(MARKER) is not None
            and RUNNER_FIXTURE in getattr(item, "fixturenames", ())
        ]


def inspectable_tests(paths: list[str] | None = None) -> tuple[int, list[str]]:
    """pytest's exit code for the collection and the node IDs found."""
    collector = _Collector()
    code = pytest.main(
        ["--collect-only", "-q", "-p", "no:cacheprovider", *(paths or ["tests"])],
        plugins=[collector],
    )
    return int(code), collector.node_ids


def main() -> int:
    code, node_ids = inspectable_tests(sys.argv[1:] or None)
    # pytest's own collection listing went to stdout first; this marker separates ours.
    print("--- inspectable ---")
    print("\n".join(node_ids))
    return code


if __name__ == "__main__":
    sys.exit(main())

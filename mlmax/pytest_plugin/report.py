"""What a failed test's report says: an mlmax error's one sentence, the log tails of its jobs.

`mlmax.pytest_plugin.plugin`'s report hook is the one place an MlmaxError is worded for a
test (`failure_message`); the fixtures note here what the report may add: the container log
tail of a job that failed (should the test catch the error and fail on its own) and the runs
of `sm_session`, whose containers' log tails a failed test's report shows.
"""

from __future__ import annotations

import contextlib
import linecache
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlmax.common import MlmaxError
from mlmax.pytest_plugin.session import local_mode_session

# (job, its container log tail) of each job that failed in the test.
JOB_FAILURES = pytest.StashKey[list[tuple[str, str]]]()
# (fixture, run id) of each run the test's own-SDK fixtures made (`sm_session`,
# `sm_pipeline_session`): a failing test shows their containers' log tails.
SDK_RUNS = pytest.StashKey[list[tuple[str, str]]]()
LOG_TAIL_LINES = 60


@contextlib.contextmanager
def noting_job_failures(item: pytest.Item) -> Iterator[None]:
    """A job that fails leaves its log tail for the report, should the test catch it."""
    from mlmax.localmode.errors import JobFailedError

    try:
        yield
    except JobFailedError as error:
        item.stash.setdefault(JOB_FAILURES, []).append((error.job, error.log_tail))
        raise


def failure_message(error: MlmaxError, item: pytest.Item, excinfo: Any) -> str:
    """One sentence, a failed job's container log tail, and the test's own lines to it."""
    from mlmax.localmode.errors import JobFailedError

    if isinstance(error, JobFailedError):  # its sentence's first line, then the log tail
        sentence = error.sentence().split("\n", 1)[0]
        lines = [sentence, "", f"container log of job {error.job!r} (last lines):", error.log_tail]
    else:
        lines = [error.sentence()]
    session = local_mode_session(item.config)
    if session is not None and error is session.unusable:  # the session's Docker check
        lines[0] = f"--smlocal cannot run: {lines[0]}"
    # Traceback entries in the project's test code (the test, its fixtures, conftest files),
    # not in mlmax, pytest or the SDK: where the test asked for the job.
    root, package = item.config.rootpath, Path(__file__).parents[1]
    in_tests = [
        entry
        for entry in excinfo.traceback
        if Path(str(entry.path)).is_relative_to(root)
        and not Path(str(entry.path)).is_relative_to(package)
        and ".venv" not in Path(str(entry.path)).parts
    ]
    if in_tests:
        lines.append("")
    for entry in in_tests:
        lines.append(f"{entry.path}:{entry.lineno + 1}: in {entry.name}")
        # The line as the file holds it now, or nothing: pytest's own `entry.statement`
        # asserts that the source is readable, which a file the user cannot read (or one
        # removed since) is not, and an error here would end the whole session.
        statement = linecache.getline(str(entry.path), entry.lineno + 1).strip()
        if statement:
            lines.append(f"    {statement}")
    return "\n".join(lines)


def report_logs_on_failure(request: pytest.FixtureRequest, fixture: str, run_id: str) -> None:
    """If the test fails, its report shows the log tail of the run's containers."""
    request.node.stash.setdefault(SDK_RUNS, []).append((fixture, run_id))


def sdk_container_logs(item: pytest.Item) -> list[tuple[str, str]]:
    """(fixture, log tail) of each own-SDK run's containers in the test (for its report)."""
    runs = item.stash.get(SDK_RUNS, [])
    if not runs:
        return []
    from mlmax.localmode.engine import logs_of, run_containers

    tails = []
    for fixture, run_id in runs:
        ran = run_containers(run_id)
        if ran:
            tails.append((fixture, logs_of(ran, tail_lines=LOG_TAIL_LINES)))
    return tails

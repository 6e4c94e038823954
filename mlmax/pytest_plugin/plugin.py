"""pytest plugin: `--smlocal` runs tests marked `smlocal` in SageMaker Local Mode containers.

Registered as the `pytest11` entry point `mlmax`, so any project that installs mlmax gets:

- `--smlocal`: run tests marked `smlocal` (otherwise they are skipped with the reason
  "need --smlocal option to run"). Docker, Compose and the job image are checked (and the
  image built) once, when the first container test needs them, never at start-up: so
  collection (`--collect-only`, VS Code's discovery) never touches Docker, and a run of unit
  tests never waits for it. If Docker is unusable, each container test fails with one
  sentence naming the fix and the other tests run as usual.
- `--sm-image IMAGE`: use a local image instead of building the job image (e.g. the official
  SageMaker scikit-learn image, if present in the engine).
- `--sm-timeout SECONDS`: per-job timeout (default 900).
- `--sm-memory SIZE`: each job container's memory limit (default: the memory of the job's
  declared `instance_type`, so a job its instance would kill is killed here too).
- `--inspectlocal`, `--inspect-port`, `--inspect-timeout`, `--inspect-job`: debug the
  selected container test's jobs and pipeline steps (`inspect_mode`); under a debugger (VS
  Code's Debug Test) each opens as a child debug session (`debug_test`).
- `--test-at FILE:LINE`: run only the test at an editor's cursor (`selection`).
- fixtures `sm_image`, `sm_s3`, `sm_localmode`, `sm_local`, `sm_endpoint`, `sm_session`
  (`fixtures`).
- an mlmax error (`mlmax.common.errors.MlmaxError`) in a test is the test's failure message (what
  VS Code's Test Explorer shows on the test): its one sentence (a failing job's also its
  container log tail), then the test's own lines on the way to it; at start-up (a bad option,
  a bad [tool.mlmax] declaration) it is pytest's usage error. Other exceptions keep pytest's
  usual report.
- with `--smlocal`, SIGTERM and SIGHUP tear down like Ctrl-C; the exit code is then 143 / 129.

This module declares the options, the marker and the hooks. The behaviour lives in plugin
objects, registered in `pytest_configure` only when their feature is on:
`session.LocalModeSession` (`--smlocal`), `inspect_mode.InspectPlugin` (`--inspectlocal`) or
`debug_test.DebugTestPlugin` (pytest under a debugger), registered as the debugger the fixtures
ask (`debugger.Debugger`), and `selection.TestAtLine` (`--test-at`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import pytest

from mlmax.common import MlmaxError, UsageError, skip_the_last_collection
from mlmax.localmode.debug import (
    DEFAULT_INSPECT_PORT,
    DEFAULT_WAIT_TIMEOUT,
    INSPECT_MODES,
    resolve_host_port,
)
from mlmax.localmode.engine import skip_ssh_transport
from mlmax.pytest_plugin.debug_test import DebugTestPlugin, under_debugger
from mlmax.pytest_plugin.debugger import DEBUGGER, write_live
from mlmax.pytest_plugin.inspect_mode import InspectPlugin
from mlmax.pytest_plugin.report import JOB_FAILURES, failure_message, sdk_container_logs
from mlmax.pytest_plugin.selection import OPTION as TEST_AT
from mlmax.pytest_plugin.selection import TestAtLine
from mlmax.pytest_plugin.session import (
    LOCALMODE,
    MARKER,
    SKIP_REASON,
    LocalModeSession,
)

if TYPE_CHECKING:
    from mlmax.localmode.debug import InspectMode

DEFAULT_TIMEOUT = 900.0

# The fixtures (`sm_pipeline_session`: a test's own Pipeline), the project's container-test
# default and the SDK guards live in their own modules.
pytest_plugins = [
    "mlmax.pytest_plugin.fixtures",
    "mlmax.pytest_plugin.sm_pipeline",
    "mlmax.pytest_plugin.container_default",
    "mlmax.pytest_plugin.sdk_guards",
]

_container_counts_key = pytest.StashKey[dict[str, int]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlmax", "SageMaker Local Mode (mlmax)")
    group.addoption(
        "--smlocal",
        action="store_true",
        default=False,
        help="run tests marked smlocal: jobs in their SageMaker Local Mode containers",
    )
    group.addoption(
        "--sm-image",
        default=None,
        metavar="IMAGE",
        help="a local image to run the jobs in instead of mlmax's job image",
    )
    group.addoption(
        "--sm-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"timeout of one job in a container (default {DEFAULT_TIMEOUT:g})",
    )
    group.addoption(
        "--sm-memory",
        default=None,
        metavar="SIZE",
        help="memory limit of each job's container, e.g. 2g (default: the memory of the "
        "job's declared instance_type, else none)",
    )
    group.addoption(
        "--inspectlocal",
        nargs="?",
        const="debugpy",
        default=None,
        choices=INSPECT_MODES,
        help="debug the selected container test's jobs: under debugpy (default), or "
        "--inspectlocal=repl for python -i with docker attach/exec commands",
    )
    group.addoption(
        "--inspect-port",
        type=int,
        default=DEFAULT_INSPECT_PORT,
        metavar="PORT",
        help=f"host port on 127.0.0.1 for debugpy (default {DEFAULT_INSPECT_PORT}; 0 = free one)",
    )
    group.addoption(
        "--inspect-timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for a debugger to attach (default {DEFAULT_WAIT_TIMEOUT:g})",
    )
    group.addoption(
        "--inspect-job",
        default=None,
        metavar="JOB",
        help="debug only this job or pipeline step of the inspected test (e.g. train), run "
        "the others normally",
    )
    group.addoption(
        TEST_AT,
        default=None,
        metavar="FILE:LINE",
        help="run only the test whose source holds LINE of FILE (an editor's cursor)",
    )


@pytest.hookimpl(trylast=True)  # after the terminal reporter exists, for build progress
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: runs a job in its SageMaker Local Mode container (needs --smlocal)",
    )
    skip_the_last_collection()
    skip_ssh_transport()
    try:
        _configure(config)
    except MlmaxError as error:  # the one place an MlmaxError becomes pytest's usage error
        raise pytest.UsageError(error.sentence()) from None


def _configure(config: pytest.Config) -> None:
    """Check the project's declarations and the options, then register the plugin objects of
    the features that are on; an MlmaxError names the fix. Nothing here touches Docker."""
    from mlmax.project import current_project

    current_project(config.rootpath)  # a bad [tool.mlmax] stops the run with its fix
    memory = config.getoption("--sm-memory", default=None)
    if memory is not None:
        from mlmax.project import parse_memory

        parse_memory(memory)  # a bad size stops the run with its fix
    test_at = config.getoption(TEST_AT, default=None)
    if test_at is not None:
        config.pluginmanager.register(TestAtLine.from_option(test_at), "mlmax-test-at")
    smlocal = config.getoption("--smlocal", default=False)
    mode = config.getoption("--inspectlocal", default=None)
    if mode and not smlocal:
        raise UsageError(
            "--inspectlocal needs --smlocal: run `pytest --smlocal --inspectlocal -k <test>`"
        )
    if not smlocal:
        return
    debugger = _inspect_plugin(config, mode) if mode else _debug_test_plugin(config)
    config.pluginmanager.register(LocalModeSession(config), LOCALMODE)
    if debugger is not None:
        config.pluginmanager.register(debugger, DEBUGGER)


def _inspect_plugin(config: pytest.Config, mode: InspectMode) -> InspectPlugin:
    """--inspectlocal's plugin, once its options are checked."""
    if _uses_xdist(config):
        raise UsageError(
            "--inspectlocal debugs one job at a time and cannot run under pytest-xdist; "
            "drop -n/--numprocesses and select one test with -k"
        )
    job = _checked_job(config)
    port = config.getoption("--inspect-port")
    if mode == "debugpy":
        port = resolve_host_port(port)  # an InspectError names the option to change
    wait_timeout = config.getoption("--inspect-timeout")
    return InspectPlugin(config, mode=mode, port=port, wait_timeout=wait_timeout, job=job)


def _debug_test_plugin(config: pytest.Config) -> DebugTestPlugin | None:
    """Under a debugger (VS Code's Debug Test): each job becomes a child debug session."""
    if _uses_xdist(config) or not under_debugger():
        return None
    return DebugTestPlugin(
        config,
        wait_timeout=config.getoption("--inspect-timeout"),
        job=_checked_job(config),
        write=functools.partial(write_live, config),
    )


def _uses_xdist(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput"):
        return True
    workers = config.getoption("numprocesses", default=None)
    return bool(workers) and workers != "0"


def _checked_job(config: pytest.Config) -> str | None:
    """--inspect-job's name. A declared job, `endpoint` (the handler of an sm_endpoint
    deployment) or a step of a pipeline a test builds: that one is known only when the test
    runs its pipeline, and `sm_pipeline_session` refuses it then if it is none of them."""
    return config.getoption("--inspect-job")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--smlocal"):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if MARKER in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when not in ("setup", "call") or not report.failed:
        return report
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, MlmaxError):
        # The one place an MlmaxError becomes a test's failure message (what VS Code
        # shows on the test): its sentence (and a job's log tail), then where the test
        # asked for it; mlmax's own frames are no help to the test's author.
        report.longrepr = failure_message(error, item, call.excinfo)
    else:
        # The test went on after a job failed (e.g. it expected the failure): its own
        # failure message stays, the job's log tail is a report section.
        for job, log_tail in item.stash.get(JOB_FAILURES, []):
            report.sections.append((f"container log of job {job!r} (last lines)", log_tail))
    if report.when == "call":
        for fixture, log_tail in sdk_container_logs(item):
            report.sections.append((f"containers of {fixture} (last lines)", log_tail))
    return report


def pytest_report_teststatus(
    report: pytest.CollectReport | pytest.TestReport, config: pytest.Config
) -> None:
    # Count container tests by outcome (xdist hands the controller every worker's report),
    # so the summary can say how many ran in containers rather than being skipped. Collection
    # reports (a module that does not import) come here too and have no keywords.
    if not isinstance(report, pytest.TestReport) or MARKER not in report.keywords:
        return
    outcome = None
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = report.outcome
    if outcome is not None:
        counts = config.stash.setdefault(_container_counts_key, {})
        counts[outcome] = counts.get(outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    counts = config.stash.get(_container_counts_key, {})
    if not counts:
        return
    parts = ", ".join(f"{counts.get(o, 0)} {o}" for o in ("passed", "failed", "skipped"))
    terminalreporter.write_line(f"mlmax: container tests (marker {MARKER}): {parts}")

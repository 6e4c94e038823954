"""`sm_session`: the offline Local Mode session for a test's own SageMaker SDK objects.

A test written against the SDK (a `FrameworkProcessor(...).run(...)`, a `ScriptProcessor`,
a `ModelTrainer(...).train()` in Local Mode) runs offline when it passes
`sagemaker_session=sm_session`: the session talks to the embedded S3 with its per-session
keys, the test's environment is pinned to them (nothing reads ~/.aws), every container the SDK
starts carries this test's labels, and after the test those containers and the session's
directories are removed. A failing test gets the containers' log tail in its report.
Under `--inspectlocal` its own processors and trainers run under debugpy
(`localmode.debug.sdk_hooks`).

Loaded by mlmax.pytest_plugin.plugin (`pytest_plugins`): every project installing mlmax has it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

# (fixture, run id) of each run a test's fixtures made: a failing test shows their log tails.
_runs_key = pytest.StashKey[list[tuple[str, str]]]()
LOG_TAIL_LINES = 60


@pytest.fixture
def sm_session(sm_localmode: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A SageMaker SDK LocalSession bound to the embedded S3, for the test's own SDK objects."""
    from mlmax.localmode.engine import container_user
    from mlmax.localmode.run import LocalRun
    from mlmax.localmode.sdk import extra_service_config

    offline = sm_localmode.session
    with LocalRun(offline, f"sdk:{request.node.name}", id_prefix="sdk") as run:
        report_logs_on_failure(request, "sm_session", run.run_id)
        # Pinned for the whole test: the SDK reads the environment again wherever it builds
        # a boto session of its own (ModelTrainer does).
        # Containers run as the calling user, as mlmax's own runs do (container_user.py).
        with (
            offline.pinned(),
            extra_service_config(None, labels=run.labels, user=container_user()),
            _inspected(request, job=run.job),
        ):
            yield run.sdk_session()


def report_logs_on_failure(request: pytest.FixtureRequest, fixture: str, run_id: str) -> None:
    """If the test fails, its report shows the log tail of the run's containers."""
    request.node.stash.setdefault(_runs_key, []).append((fixture, run_id))


def _inspected(request: pytest.FixtureRequest, *, job: str) -> AbstractContextManager[None]:
    """Under `--inspectlocal` (debugpy) for this test: its own SDK objects run under debugpy."""
    from mlmax.pytest_plugin.inspect_mode import InspectPlugin, plugin_of

    plugin = plugin_of(request.config)
    if not isinstance(plugin, InspectPlugin) or not plugin.active or plugin.mode != "debugpy":
        return contextlib.nullcontext()
    if plugin.job:  # --inspect-job names a declared job; this test's own objects are not one
        return contextlib.nullcontext()
    from mlmax.localmode.debug import sdk_objects_under_debugger

    return sdk_objects_under_debugger(
        job=job, port=plugin.port, wait_timeout=plugin.wait_timeout, on_ready=plugin.announce
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    run_ids = item.stash.get(_runs_key, [])
    if report.when == "call" and report.failed and run_ids:
        from mlmax.localmode.engine import logs_of, run_containers

        for fixture, run_id in run_ids:
            ran = run_containers(run_id)
            if ran:
                tail = logs_of(ran, tail_lines=LOG_TAIL_LINES)
                report.sections.append((f"containers of {fixture} (last lines)", tail))
    return report

"""What the fixtures ask the debugger plugin, when one is registered.

Inspect mode (`--inspectlocal`: `inspect_mode.InspectPlugin`) and a pytest run under a debugger
(VS Code's Debug Test: `debug_test.DebugTestPlugin`) each run a container test's work under
debugpy in their own way. Whichever is on is registered as `DEBUGGER` (never both); the
fixtures ask it which jobs, endpoints and SDK objects to debug, through `Debugger`.
"""

from __future__ import annotations

import contextlib
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pytest

    from mlmax.localmode.endpoint import EndpointDebug
    from mlmax.localmode.run import JobDebugging, PipelineStep
    from mlmax.project import JobRun

DEBUGGER = "mlmax-debugger"  # the name the debugger plugin is registered under


class Debugger(Protocol):
    """A plugin that runs container tests' work under debugpy."""

    # How long a debugged job or endpoint waits for a debugger to attach.
    wait_timeout: float

    def job_debugging(self, run: JobRun) -> JobDebugging | None:
        """How `run` goes under the debugger; None: it runs as usual (a `DebugPolicy`)."""
        ...

    def endpoint_debugging(self, source_dir: Path) -> EndpointDebug | None:
        """How an `sm_endpoint` deployment's handler (its code from `source_dir`) goes under
        the debugger; None: not."""
        ...

    def sdk_objects_debugging(self, job: str) -> AbstractContextManager[None] | None:
        """A scope in which the test's own SDK objects (`sm_session`, containers labelled
        `job`) run under the debugger; None: they run as usual."""
        ...

    def step_debugging(self, step: PipelineStep) -> JobDebugging | None:
        """How a step of the test's own pipeline (`sm_pipeline_session`) goes under the
        debugger; None: it runs as usual (a `StepPolicy`)."""
        ...


def debugger_of(config: pytest.Config) -> Debugger | None:
    """The registered debugger plugin; None when the run debugs nothing."""
    debugger: Debugger | None = config.pluginmanager.get_plugin(DEBUGGER)
    return debugger


def write_live(config: pytest.Config, lines: list[str]) -> None:
    """Show `lines` now, even while the test captures output (pipe or pty)."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    capture = config.pluginmanager.getplugin("capturemanager")
    if reporter is None:
        for line in lines:
            print(line, file=sys.__stdout__, flush=True)
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for line in lines:
            reporter.write_line(line)
        reporter.flush()

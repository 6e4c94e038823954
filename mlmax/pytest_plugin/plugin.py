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
- fixtures `sm_image` (the image tag), `sm_s3` (the embedded S3 server), `sm_local` (a
  runner: `sm_local.run("train", inputs=..., outputs=..., arguments=...) -> JobResult`),
  `sm_endpoint` (real-time endpoints: `sm_endpoint.deploy(model_dir, proc_model_dir)` ->
  a ready `Endpoint` on a free 127.0.0.1 port, removed when the test ends).
- an mlmax error (`mlmax.common.errors.MlmaxError`) in a test is the test's failure message (what
  VS Code's Test Explorer shows on the test): its one sentence (a failing job's also its
  container log tail), then the test's own lines on the way to it; at start-up (a bad option,
  a bad [tool.mlmax] declaration) it is pytest's usage error. Other exceptions keep pytest's
  usual report.
- with `--smlocal`, SIGTERM and SIGHUP tear down like Ctrl-C; the exit code is then 143 / 129.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlmax.common import (
    EnvironmentNotReadyError,
    MlmaxError,
    TerminationHandlers,
    skip_the_last_collection,
)
from mlmax.localmode.debug import DEFAULT_INSPECT_PORT as DEFAULT_INSPECT_PORT
from mlmax.localmode.engine import skip_ssh_transport
from mlmax.pytest_plugin import inspect_mode as pytest_inspect
from mlmax.pytest_plugin import selection as pytest_select

SKIP_REASON = "need --smlocal option to run"
MARKER = "smlocal"
DEFAULT_TIMEOUT = 900.0

# `sm_session` and `sm_pipeline_session` (the test's own SDK objects and its own Pipeline),
# the project's container-test default and the SDK guards live in their own modules.
pytest_plugins = [
    "mlmax.pytest_plugin.sm_session",
    "mlmax.pytest_plugin.sm_pipeline",
    "mlmax.pytest_plugin.container_default",
    "mlmax.pytest_plugin.sdk_guards",
]

# The outcome of the one Docker/Compose/image check of a session: the image, or the sentence
# saying why container tests cannot run.
_image_key = pytest.StashKey[str]()
_unusable_key = pytest.StashKey[str]()
_failures_key = pytest.StashKey[list[tuple[str, str]]]()
_container_counts_key = pytest.StashKey[dict[str, int]]()
_termination_key = pytest.StashKey[TerminationHandlers]()


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
    # Inspect mode (--inspectlocal, --inspect-port, ...): see mlmax/pytest_plugin/inspect_mode.py.
    pytest_inspect.add_options(group)
    # --test-at FILE:LINE (the test at an editor's cursor): see mlmax/pytest_plugin/selection.py.
    pytest_select.add_options(group)


def _say(config: pytest.Config) -> Callable[[str], None]:
    """Progress lines shown live, even while pytest captures output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")

    def say(message: str) -> None:
        line = f"[mlmax] {message}"
        if reporter is None:
            print(line, file=sys.__stderr__, flush=True)
        elif capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)

    return say


class DockerUnusable(EnvironmentNotReadyError):
    """Container tests cannot run here; the message is one sentence naming the fix."""


def _resolve_image(config: pytest.Config) -> str:
    """Check Docker and make sure the image exists; DockerUnusable with the fix otherwise."""
    from mlmax.localmode.engine import DockerUnavailableError, require_docker

    try:
        client = require_docker()
    except DockerUnavailableError as error:
        raise DockerUnusable(f"--smlocal cannot run: {error}") from None
    requested = config.getoption("--sm-image")
    if requested:
        import docker.errors

        try:
            client.images.get(requested)
        except docker.errors.ImageNotFound:
            raise DockerUnusable(
                f"--smlocal cannot run: image {requested!r} (from --sm-image) is not in the "
                "local Docker engine; load it with `docker load` or drop --sm-image"
            ) from None
        return str(requested)
    from mlmax.localmode.image import project_default_image

    # xdist workers each reach this, but ensure_job_image builds under a lock shared by every
    # process (the first builds, the others wait and reuse it); a worker's progress goes to
    # the terminal's stderr, since the controller shows nothing of a worker's output.
    say = _worker_say if hasattr(config, "workerinput") else _say(config)
    try:
        return project_default_image(config.rootpath, progress=say)
    except MlmaxError as error:  # a one-sentence error; anything else is a bug, traceback kept
        raise DockerUnusable(f"--smlocal cannot run: {error.sentence()}") from None


def _worker_say(message: str) -> None:
    print(f"[mlmax] {message}", file=sys.__stderr__, flush=True)


def container_image(config: pytest.Config) -> str:
    """The session's image, checked (and built if missing) on first use, then remembered.

    A failed check is remembered too: every container test then fails at once with the
    same sentence, rather than checking Docker again.
    """
    if _image_key in config.stash:
        return config.stash[_image_key]
    if _unusable_key not in config.stash:
        try:
            config.stash[_image_key] = _resolve_image(config)
            _sweep_killed_sessions(config)  # Docker is known to work now
            return config.stash[_image_key]
        except DockerUnusable as error:
            config.stash[_unusable_key] = str(error)
    raise DockerUnusable(config.stash[_unusable_key])


def _sweep_killed_sessions(config: pytest.Config) -> None:
    """Remove what SIGKILLed sessions left (containers, temp dirs); one line if anything."""
    from mlmax.localmode.run import describe_leftovers, reap

    swept = reap()
    if swept:
        _say(config)(describe_leftovers(swept))


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
    """Check the project's declarations and the options; an MlmaxError names the fix."""
    from mlmax.project import current_project

    current_project(config.rootpath)  # a bad [tool.mlmax] stops the run with its fix
    memory = config.getoption("--sm-memory", default=None)
    if memory is not None:
        from mlmax.project import parse_memory

        parse_memory(memory)  # a bad size stops the run with its fix
    pytest_select.configure(config)
    # Nothing here touches Docker: the checks run when the first container test needs them.
    if config.getoption("--smlocal", default=False):
        # SIGTERM, SIGHUP: the same teardown as Ctrl-C (containers, compose, temp dirs).
        config.stash[_termination_key] = TerminationHandlers().install()
    if config.getoption("--smlocal", default=False) or config.getoption(
        "--inspectlocal", default=None
    ):
        pytest_inspect.configure(config)


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    handlers = session.config.stash.get(_termination_key, None)
    if handlers is not None and handlers.received is not None:
        session.exitstatus = 128 + handlers.received  # the shell's code: 143, 129


def pytest_unconfigure(config: pytest.Config) -> None:
    handlers = config.stash.get(_termination_key, None)
    if handlers is not None:
        handlers.restore()


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
    if report.when in ("setup", "call") and report.failed:
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, MlmaxError):
            # The one place an MlmaxError becomes a test's failure message (what VS Code
            # shows on the test): its sentence (and a job's log tail), then where the test
            # asked for it; mlmax's own frames are no help to the test's author.
            report.longrepr = failure_message(error, item, call.excinfo)
        else:
            # The test went on after a job failed (e.g. it expected the failure): its own
            # failure message stays, the job's log tail is a report section.
            for job, log_tail in item.stash.get(_failures_key, []):
                report.sections.append((f"container log of job {job!r} (last lines)", log_tail))
    return report


def failure_message(error: MlmaxError, item: pytest.Item, excinfo: Any) -> str:
    """One sentence, a failed job's container log tail, and the test's own lines to it."""
    from mlmax.localmode.errors import JobFailedError

    if isinstance(error, JobFailedError):  # its sentence's first line, then the log tail
        sentence = error.sentence().split("\n", 1)[0]
        lines = [sentence, "", f"container log of job {error.job!r} (last lines):", error.log_tail]
    else:
        lines = [error.sentence()]
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
        lines.append(f"    {str(entry.statement).strip()}")
    return "\n".join(lines)


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


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sm_image(pytestconfig: pytest.Config) -> str:
    """The image jobs run in: Docker checked and the image built once, by the first user."""
    if not pytestconfig.getoption("--smlocal"):
        pytest.skip(SKIP_REASON)
    return container_image(pytestconfig)


@pytest.fixture(scope="session")
def sm_s3(sm_image: str) -> Iterator[Any]:
    """The embedded S3 server on 127.0.0.1 (moto), for the whole session."""
    from mlmax.localmode.s3 import S3Server

    # Not waited for here: its own process starts while sm_localmode imports the SDK, and
    # the session waits for it before its first request.
    server = S3Server().start(wait=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sm_localmode(
    sm_image: str, sm_s3: Any, pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The session's LocalMode (runner, offline session, S3); most tests want `sm_local`."""
    from mlmax.localmode.image import JobImages
    from mlmax.localmode.run import LocalMode

    # Each declared job's own image (built once, when first needed), else sm_image.
    images = JobImages(override=pytestconfig.getoption("--sm-image"), default=sm_image)
    with LocalMode(
        image=sm_image,
        project_root=pytestconfig.rootpath,
        image_for=images,
        real_s3=False,
        s3_endpoint_url=sm_s3.endpoint_url,
        default_timeout=pytestconfig.getoption("--sm-timeout"),
        memory=pytestconfig.getoption("--sm-memory"),
        temp_parent=_session_parent(tmp_path_factory.getbasetemp()),
    ) as local_mode:
        inspect = pytest_inspect.plugin_of(pytestconfig)
        if inspect is not None:
            local_mode.job_runner = inspect.run_job
        yield local_mode


def _session_parent(basetemp: Path) -> Path | None:
    """pytest's basetemp when the next session's sweep looks there (the default one), else
    None: the temp root. A SIGKILLed run's dir under a --basetemp that no later run uses
    would otherwise never be swept."""
    from mlmax.localmode.run import is_swept

    return basetemp if is_swept(basetemp) else None


class SmLocal:
    """What `sm_local` gives a test: run jobs; failures are attached to the test's report."""

    def __init__(self, local_mode: Any, item: pytest.Item) -> None:
        self.local_mode = local_mode
        self.image: str = local_mode.image
        self._item = item

    def run(
        self,
        job: str,
        *,
        inputs: Mapping[str, Path | str] | None = None,
        outputs: Mapping[str, Path | str] | None = None,
        arguments: Sequence[str] = (),
        timeout: float | None = None,
        **options: Any,
    ) -> Any:
        """Run `job` (mlmax's or one declared in the project's pyproject.toml) in its
        container; returns a JobResult."""
        from mlmax.localmode.errors import JobFailedError

        try:
            return self.local_mode.run(
                job,
                inputs=inputs,
                outputs=outputs,
                arguments=arguments,
                timeout=timeout,
                **options,
            )
        except JobFailedError as error:
            failures = self._item.stash.setdefault(_failures_key, [])
            failures.append((error.job, error.log_tail))
            raise


@pytest.fixture
def sm_local(sm_localmode: Any, request: pytest.FixtureRequest) -> SmLocal:
    """Run declared jobs in their Local Mode containers (needs --smlocal)."""
    return SmLocal(sm_localmode, request.node)


class SmEndpoint:
    """What `sm_endpoint` gives a test: deploy models; every endpoint ends with the test."""

    def __init__(self, local_mode: Any, item: pytest.Item, stack: contextlib.ExitStack) -> None:
        self.local_mode = local_mode
        self._item = item
        self._stack = stack
        self._inspect = pytest_inspect.plugin_of(item.config)

    def _inspect_debug(self) -> Any:
        """Under --inspectlocal (debugpy) or Debug Test for this test: the handler runs under
        debugpy and waits for a debugger (announced, or opened as a child debug session)."""
        from mlmax.localmode.debug import ReadyInfo
        from mlmax.localmode.endpoint import ENDPOINT_JOB, SERVING_CODE_ROOT, EndpointDebug
        from mlmax.pytest_plugin.debug_test import DebugTestPlugin

        inspect = self._inspect
        if isinstance(inspect, DebugTestPlugin):
            if inspect.job and inspect.job != ENDPOINT_JOB:
                return None
            # Debug Test: the same loopback forward as --inspectlocal, on a port the OS picks.
            return EndpointDebug(0, wait_for_client=True, on_ready=inspect.open_endpoint_session)
        if not isinstance(inspect, pytest_inspect.InspectPlugin):
            return None
        if not inspect.active or inspect.mode != "debugpy":
            return None
        if inspect.job and inspect.job != ENDPOINT_JOB:
            return None

        def announce(port: int) -> None:
            inspect.announce(ReadyInfo(ENDPOINT_JOB, port, SERVING_CODE_ROOT, container=""))

        return EndpointDebug(inspect.port, wait_for_client=True, on_ready=announce)

    def deploy(
        self, model_dir: Path | str, proc_model_dir: Path | str | None = None, **options: Any
    ) -> Any:
        """Serve a trained model (+ its preprocessor) in its container; returns an Endpoint.

        `options` go to `mlmax.localmode.endpoint.hosting.deploy` (timeout, environment, ...).
        """
        from mlmax.localmode.endpoint import deploy
        from mlmax.localmode.errors import JobFailedError

        debug = self._inspect_debug()
        if debug is not None and self._inspect is not None:
            options.setdefault("debug", debug)
            options["timeout"] = self._inspect.wait_timeout  # until someone attaches
        try:
            return self._stack.enter_context(
                deploy(
                    Path(model_dir),
                    proc_model_dir=None if proc_model_dir is None else Path(proc_model_dir),
                    image=self.local_mode.image,
                    session=self.local_mode.session,
                    **options,
                )
            )
        except JobFailedError as error:
            failures = self._item.stash.setdefault(_failures_key, [])
            failures.append((error.job, error.log_tail))
            raise


@pytest.fixture
def sm_endpoint(sm_localmode: Any, request: pytest.FixtureRequest) -> Iterator[SmEndpoint]:
    """Deploy real-time endpoints in Local Mode (needs --smlocal); removed after the test."""
    with contextlib.ExitStack() as stack:
        yield SmEndpoint(sm_localmode, request.node, stack)

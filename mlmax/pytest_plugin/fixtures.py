"""The fixtures every project installing mlmax gets (loaded by `mlmax.pytest_plugin.plugin`).

- `sm_image`: the image tag (Docker checked and the image built once, by the first user);
- `sm_s3`: the embedded S3 server on 127.0.0.1;
- `sm_localmode`: the session's LocalMode; most tests want `sm_local`, a runner:
  `sm_local.run("train", inputs=..., outputs=..., arguments=...) -> JobResult`;
- `sm_endpoint`: real-time endpoints: `sm_endpoint.deploy(model_dir, endpoint="name")` (an
  endpoint the project declares; without it the census model, `deploy(model_dir,
  proc_model_dir)`) -> a ready `Endpoint` on a free 127.0.0.1 port, removed when the test ends;
- `sm_session`: the offline Local Mode session for a test's own SageMaker SDK objects.

Without `--smlocal` each of them skips its test ("need --smlocal option to run"). What a
debugger plugin is registered for (`mlmax.pytest_plugin.debugger`) decides which jobs,
endpoints and SDK objects run under debugpy. A failed job's container log tail, and the log
tail of `sm_session`'s containers, are noted for the test's report (the plugin's report hook).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlmax.pytest_plugin.debugger import Debugger, debugger_of
from mlmax.pytest_plugin.report import noting_job_failures, report_logs_on_failure
from mlmax.pytest_plugin.session import SKIP_REASON, local_mode_session

if TYPE_CHECKING:
    from mlmax.project import EndpointDefinition


@pytest.fixture(scope="session")
def sm_image(pytestconfig: pytest.Config) -> str:
    """The image jobs run in: Docker checked and the image built once, by the first user."""
    session = local_mode_session(pytestconfig)
    if session is None:
        pytest.skip(SKIP_REASON)
    return session.image()


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
    session = local_mode_session(pytestconfig)
    assert session is not None  # sm_image skipped the test without --smlocal
    with session.local_mode(sm_s3.endpoint_url, tmp_path_factory.getbasetemp()) as local_mode:
        yield local_mode


class SmLocal:
    """What `sm_local` gives a test: run jobs; failures are noted for the test's report."""

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
        with noting_job_failures(self._item):
            return self.local_mode.run(
                job,
                inputs=inputs,
                outputs=outputs,
                arguments=arguments,
                timeout=timeout,
                **options,
            )


@pytest.fixture
def sm_local(sm_localmode: Any, request: pytest.FixtureRequest) -> SmLocal:
    """Run declared jobs in their Local Mode containers (needs --smlocal)."""
    return SmLocal(sm_localmode, request.node)


class SmEndpoint:
    """What `sm_endpoint` gives a test: deploy models; every endpoint ends with the test."""

    def __init__(
        self,
        local_mode: Any,
        item: pytest.Item,
        stack: contextlib.ExitStack,
        debugger: Debugger | None,
    ) -> None:
        self.local_mode = local_mode
        self._item = item
        self._stack = stack
        self._debugger = debugger

    def deploy(
        self,
        model_dir: Path | str,
        proc_model_dir: Path | str | None = None,
        *,
        endpoint: str | EndpointDefinition | None = None,
        **options: Any,
    ) -> Any:
        """Serve a trained model in its container; returns an Endpoint.

        `endpoint`: an endpoint the project declares (`[tool.mlmax.endpoints.<name>]`), by
        name or as its definition: its inference script serves `model_dir`. Without it,
        mlmax's census handler serves the model and the preprocessor of `proc_model_dir`.
        `options` go to `mlmax.localmode.endpoint.hosting.deploy` (timeout, environment, ...).
        Under --inspectlocal (debugpy) or Debug Test for this test, the handler runs under
        debugpy and waits for a debugger (announced, or opened as a child debug session).
        """
        from mlmax.localmode.endpoint import CENSUS_HANDLER, deploy

        handler = self._handler(endpoint) if endpoint is not None else CENSUS_HANDLER
        if endpoint is not None and proc_model_dir is not None:
            from mlmax.common import UsageError

            raise UsageError(
                "proc_model_dir is for mlmax's census handler; a declared endpoint's model_fn "
                "reads everything from model_dir"
            )
        debugger = self._debugger
        debug = debugger.endpoint_debugging(handler.source_dir) if debugger is not None else None
        if debugger is not None and debug is not None:
            options.setdefault("debug", debug)
            options["timeout"] = debugger.wait_timeout  # until someone attaches
        with noting_job_failures(self._item):
            return self._stack.enter_context(
                deploy(
                    Path(model_dir),
                    proc_model_dir=None if proc_model_dir is None else Path(proc_model_dir),
                    image=self.local_mode.image,
                    session=self.local_mode.session,
                    handler=handler,
                    **options,
                )
            )

    def _handler(self, endpoint: str | EndpointDefinition) -> EndpointDefinition:
        from mlmax.project import DeclarationError, current_project

        if not isinstance(endpoint, str):
            return endpoint
        project = current_project(self.local_mode.project_root)
        if project is None:
            raise DeclarationError(
                f"no project declares endpoint {endpoint!r} (no [tool.mlmax] in a pyproject.toml "
                f"at or above {self.local_mode.project_root or Path.cwd()}); declare it as "
                f"[tool.mlmax.endpoints.{endpoint}]"
            )
        return project.endpoint(endpoint)


@pytest.fixture
def sm_endpoint(sm_localmode: Any, request: pytest.FixtureRequest) -> Iterator[SmEndpoint]:
    """Deploy real-time endpoints in Local Mode (needs --smlocal); removed after the test."""
    with contextlib.ExitStack() as stack:
        yield SmEndpoint(sm_localmode, request.node, stack, debugger_of(request.config))


# -- sm_session ----------------------------------------------------------------------------------
# A test written against the SDK (a `FrameworkProcessor(...).run(...)`, a `ScriptProcessor`,
# a `ModelTrainer(...).train()` in Local Mode) runs offline when it passes
# `sagemaker_session=sm_session`: the session talks to the embedded S3 with its per-session
# keys, the test's environment is pinned to them (nothing reads ~/.aws), every container the
# SDK starts carries this test's labels, and after the test those containers and the session's
# directories are removed. A failing test gets the containers' log tail in its report. Under
# `--inspectlocal` its own processors and trainers run under debugpy
# (`localmode.debug.sdk_hooks`).
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
            _sdk_objects_debugging(request.config, job=run.job),
        ):
            yield run.sdk_session()


def _sdk_objects_debugging(config: pytest.Config, *, job: str) -> AbstractContextManager[None]:
    debugger = debugger_of(config)
    scope = debugger.sdk_objects_debugging(job) if debugger is not None else None
    return scope if scope is not None else contextlib.nullcontext()

"""Real-time endpoints in Local Mode: deploy a trained model, invoke it, tear it down.

`deploy(...)` goes through the SDK's offline hosting path (`LocalSession.sagemaker_client`:
`create_model`, `create_endpoint_config`, `create_endpoint`) with `file://` model data, so
the container runs exactly as SageMaker hosting runs it (`serve`, /ping, /invocations on
8080). What it serves is an inference script written to the framework serving contract,
behind mlmax's contract server (`endpoint_handler`): a project's declared endpoint, or by
default mlmax's census handler (mlmax_census/jobs/serving.py). What mlmax adds
(`mlmax.localmode.sdk.serving_hooks`):

- a free host port on 127.0.0.1 only, per endpoint, so several run at once;
- readiness watched in the calling thread: /ping polled together with the container's
  state, so a model that fails to load ends the wait at once with its log tail;
- labels per session and run, and a teardown that kills the endpoint's compose process and
  removes its containers and directory on exit, error or Ctrl-C (the reaper sweeps after a
  SIGKILL).

The SDK call runs in a worker thread (its telemetry wrapper would swallow a Ctrl-C). The
caller's handle is `endpoint_client.Endpoint`; what is served is staged by `endpoint_model`;
`mlmax serve` is `endpoint_serve`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmax.common import Progress, WaitTimeout, wait_until
from mlmax.localmode.debug import (
    DEBUGPY_HOST,
    DEBUGPY_PORT,
    INSPECT_FLAGS,
    DebugFlags,
    container_sockets,
    is_listening,
    open_forward,
)
from mlmax.localmode.endpoint.client import Endpoint, ping
from mlmax.localmode.endpoint.handler import CENSUS_HANDLER, serving_environment, stage_code
from mlmax.localmode.endpoint.model import stage_model, stage_model_dir
from mlmax.localmode.engine import LOOPBACK, container_environment, free_port
from mlmax.localmode.errors import JobFailedError
from mlmax.localmode.run import LocalRun
from mlmax.localmode.sdk import (
    OfflineSession,
    SdkThread,
    forget_endpoint,
    manage_endpoint,
    register_ready_waiter,
)
from mlmax.project import EndpointDefinition

ENDPOINT_JOB = "endpoint"  # the job label of serving containers
SERVING_CODE_ROOT = "/opt/ml/code"  # where the SDK mounts a file:// submit directory
DEBUG_ENV = "MLMAX_DEBUGPY_LISTEN"  # read by the image's `serve` (mlmax/job_image/serve)
DEBUG_WAIT_ENV = "MLMAX_DEBUGPY_WAIT"
DEFAULT_READY_TIMEOUT = 120.0  # the SDK's own limit; a dead container ends the wait at once
POLL_SECONDS = 0.1  # /ping
STATE_POLL_SECONDS = 1.0  # the container's state (and, when debugging, its sockets)


class EndpointFailedError(JobFailedError):
    """The endpoint's container stopped (or never answered /ping) before it was ready."""

    def __init__(self, exit_code: int | None, logs: str, reason: str) -> None:
        super().__init__(ENDPOINT_JOB, exit_code, logs, reason=reason)


@dataclass(frozen=True)
class EndpointDebug:
    """Run the handler under debugpy, reachable only through 127.0.0.1:`host_port` (0: free).

    debugpy listens on the container's own loopback and nothing is published: a `PortForward`
    on the host's 127.0.0.1 relays into the container (`mlmax.localmode.debug.relay`), so
    other containers on the network and the host at the container's IP cannot reach it.

    With `wait_for_client`, the server starts only once a debugger attached (inspect mode:
    breakpoints are set before the first request); `on_ready(port)` is called (with the
    forward's port) as soon as debugpy listens, which is when a debugger can attach.
    """

    host_port: int
    wait_for_client: bool = False
    on_ready: Callable[[int], None] | None = None
    flags: DebugFlags = INSPECT_FLAGS  # the options a busy port's message names

    def environment(self) -> dict[str, str]:
        values = {DEBUG_ENV: f"{DEBUGPY_HOST}:{DEBUGPY_PORT}"}
        if self.wait_for_client:
            values[DEBUG_WAIT_ENV] = "1"
        return values


class _Deployment:
    """The state of one endpoint while it starts, serves and stops."""

    def __init__(
        self,
        local: LocalRun,
        *,
        image: str,
        handler: EndpointDefinition,
        environment: Mapping[str, str] | None,
        debug: EndpointDebug | None = None,
    ) -> None:
        self.local = local
        self.image = image
        self.handler = handler
        self.debug = debug
        self.environment = {
            **container_environment(),
            **(environment or {}),
            **(debug.environment() if debug else {}),
        }
        self.debug_announced = False
        # Bound now, so a busy port fails before anything starts.
        self.forward = open_forward(debug.host_port, debug.flags) if debug else None
        self.run_id = local.run_id
        self.name = f"mlmax-{self.run_id}"
        self.root = local.root
        self.port = free_port()
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.sdk_session: Any = None
        self.worker: SdkThread | None = None
        self._next_state_check = 0.0  # when wait_ready next asks the engine

    # -- the SDK side (worker thread) -------------------------------------------------------
    def _wait_for_mlmax(self) -> None:
        # Called by the SDK in place of its 5 s polling loop: mlmax's thread decides.
        self.ready.wait()
        if self.failure is not None:
            raise RuntimeError(f"endpoint {self.name} did not start")

    def _create(self, model_uri: str, code_uri: str) -> None:
        client = self.sdk_session.sagemaker_client
        environment = {
            # The SDK mounts a file:// submit directory at /opt/ml/code: the staged code.
            "SAGEMAKER_SUBMIT_DIRECTORY": code_uri,
            **serving_environment(self.handler),
            **self.environment,
        }
        client.create_model(
            ModelName=self.name,
            PrimaryContainer={
                "Image": self.image,
                "ModelDataUrl": model_uri,
                "Environment": environment,
            },
        )
        client.create_endpoint_config(
            EndpointConfigName=self.name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": self.name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "local",
                }
            ],
        )
        client.create_endpoint(EndpointName=self.name, EndpointConfigName=self.name)

    # -- mlmax's side (calling thread) ------------------------------------------------------
    def start(self, model_dir: Path, proc_model_dir: Path | None) -> None:
        if self.handler == CENSUS_HANDLER:  # the model and its preprocessor, checked
            staged = stage_model(model_dir, proc_model_dir, self.root / "model")
        else:
            staged = stage_model_dir(model_dir, self.root / "model")
        code = stage_code(self.handler, self.root / "code")
        sdk_root = self.root / "sdk"
        sdk_root.mkdir()
        self.sdk_session = self.local.sdk_session(sdk_root, serving_port=self.port)
        manage_endpoint(str(self.root))
        register_ready_waiter(self.port, self._wait_for_mlmax)
        self.worker = self.local.start_sdk_call(
            lambda: self._create(staged.as_uri(), code.as_uri()), name=self.name
        )

    def wait_ready(self, timeout: float) -> float:
        """Block until /ping answers 200; raise EndpointFailedError as soon as it cannot."""
        started = time.monotonic()
        self._next_state_check = started
        assert self.worker is not None
        try:
            # The join wakes early when the SDK call ends.
            wait_until(
                self._ready_or_failed,
                timeout=timeout,
                what=f"endpoint {self.name}'s /ping",
                interval=POLL_SECONDS,
                pause=self.worker.join,
            )
        except WaitTimeout:
            self._fail()
            raise EndpointFailedError(
                None, self.local.logs(), reason=f"did not answer /ping within {timeout:g} s"
            ) from None
        return time.monotonic() - started

    def _ready_or_failed(self) -> bool:
        """True once ready; EndpointFailedError once the container or the SDK call ended."""
        assert self.worker is not None
        sdk_done = not self.worker.is_alive()  # read once: it may end between checks
        if ping(self.port):
            self.ready.set()
            return True
        now = time.monotonic()
        if now < self._next_state_check and not sdk_done:
            return False
        # The engine is asked less often than /ping: on a busy 2-core machine its answers
        # cost the CPU the container needs to start.
        self._next_state_check = now + STATE_POLL_SECONDS
        ran = self.local.containers()
        self._announce_debugger(ran)
        codes = self.local.exit_codes(ran)
        if codes:
            self._fail()
            raise EndpointFailedError(
                codes[0],
                self.local.logs(ran),
                reason=f"stopped with exit code {codes[0]} before it answered /ping "
                "(the model or the serving code failed to load)",
            )
        if sdk_done:
            self._fail()
            raise EndpointFailedError(
                None,
                self.local.logs(ran),
                reason=f"could not start its container ({self.worker.error})",
            )
        return False

    def _announce_debugger(self, ran: list[Any]) -> None:
        if self.debug is None or self.forward is None or self.debug_announced or len(ran) != 1:
            return
        rows = container_sockets(ran[0])
        if rows and is_listening(rows, DEBUGPY_PORT):
            self.debug_announced = True
            self.forward.target(ran[0])
            self.forward.set_ready()
            if self.debug.on_ready is not None:
                self.debug.on_ready(self.forward.port)

    def _fail(self) -> None:
        self.failure = RuntimeError("not ready")
        self.ready.set()

    def stop(self) -> None:
        """Stop the run, let the SDK forget the endpoint (the run's exit removes the rest)."""
        if not self.ready.is_set():
            self._fail()
        try:
            self.local.stop(self.worker)
            if self.sdk_session is not None:
                with contextlib.suppress(Exception):  # its compose process is already gone
                    self.sdk_session.sagemaker_client.delete_endpoint(EndpointName=self.name)
        finally:
            if self.forward is not None:
                self.forward.close()
            forget_endpoint(self.port, str(self.root))


@contextlib.contextmanager
def deploy(
    model_dir: Path,
    *,
    image: str,
    session: OfflineSession,
    proc_model_dir: Path | None = None,
    timeout: float = DEFAULT_READY_TIMEOUT,
    environment: Mapping[str, str] | None = None,
    debug: EndpointDebug | None = None,
    handler: EndpointDefinition = CENSUS_HANDLER,
    progress: Progress | None = None,
) -> Iterator[Endpoint]:
    """Serve the model of `model_dir` with `handler` (by default the census handler, which
    also serves the preprocessor of `proc_model_dir`, default the same directory) in its
    container until the block ends; yields the ready `Endpoint`."""
    say = progress or (lambda _message: None)
    with LocalRun(session, ENDPOINT_JOB, image=image) as local:
        state = _Deployment(
            local, image=image, handler=handler, environment=environment, debug=debug
        )
        try:
            with session.pinned():
                state.start(model_dir, proc_model_dir)
                say(f"endpoint {state.name}: starting in {image} on {LOOPBACK}:{state.port}")
                seconds = state.wait_ready(timeout)
            say(
                f"endpoint {state.name}: ready at http://{LOOPBACK}:{state.port} in {seconds:.1f} s"
            )
            yield Endpoint(
                state.name,
                state.port,
                state.run_id,
                seconds,
                state.sdk_session.sagemaker_runtime_client,
            )
        finally:
            state.stop()

"""`mlmax serve`: one endpoint served until Ctrl-C, SIGTERM or SIGHUP, or until it dies."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from mlmax.common import Progress, terminate_like_interrupt, wait_until
from mlmax.localmode.debug import SERVE_COMMAND_FLAGS, ready_line, resolve_host_port
from mlmax.localmode.endpoint.client import Endpoint
from mlmax.localmode.endpoint.handler import CENSUS_HANDLER
from mlmax.localmode.endpoint.hosting import (
    DEFAULT_READY_TIMEOUT,
    ENDPOINT_JOB,
    SERVING_CODE_ROOT,
    EndpointDebug,
    EndpointFailedError,
    deploy,
)
from mlmax.localmode.engine import exit_codes, logs_of, run_containers
from mlmax.localmode.image import ensure_job_image
from mlmax.localmode.run import LocalMode
from mlmax.project import EndpointDefinition


def serve_until_stopped(
    model_dir: Path,
    proc_model_dir: Path | None,
    *,
    image: str | None = None,
    timeout: float = DEFAULT_READY_TIMEOUT,
    debug_port: int | None = None,
    handler: EndpointDefinition = CENSUS_HANDLER,
    progress: Progress | None = None,
    announce: Callable[[str], None] = print,
) -> int:
    """Serve `handler` (default: the census handler) until Ctrl-C, SIGTERM or SIGHUP (0), or
    until the container dies (raises)."""
    say = progress or (lambda _message: None)
    image = image or ensure_job_image(progress=say)
    debug = None
    if debug_port is not None:

        def debugger_ready(port: int) -> None:
            announce(ready_line(port, ENDPOINT_JOB, SERVING_CODE_ROOT))
            # Where a debugger finds the handler's files: its source folder, as staged.
            announce(f"mlmax: map {SERVING_CODE_ROOT} to {handler.source_dir}")

        debug = EndpointDebug(
            resolve_host_port(debug_port, SERVE_COMMAND_FLAGS),
            on_ready=debugger_ready,
            flags=SERVE_COMMAND_FLAGS,
        )
    try:
        with (
            terminate_like_interrupt(),  # SIGTERM, SIGHUP: the teardown of Ctrl-C
            LocalMode(image=image) as local,
            deploy(
                model_dir,
                proc_model_dir=proc_model_dir,
                image=image,
                session=local.active_session,
                timeout=timeout,
                debug=debug,
                handler=handler,
                progress=say,
            ) as endpoint,
        ):
            announce(f"mlmax: endpoint ready at {endpoint.url} (POST /invocations, GET /ping)")
            announce("Press Ctrl-C to stop it.")
            _watch_until_it_dies(endpoint)
    except KeyboardInterrupt:
        say("endpoint stopped; its container was removed")
    return 0


def _watch_until_it_dies(endpoint: Endpoint) -> None:
    """Raise EndpointFailedError once the endpoint's container is gone or has exited."""

    def died() -> bool:
        ran = run_containers(endpoint.run_id)
        codes = exit_codes(ran)
        if not ran or codes:
            raise EndpointFailedError(
                codes[0] if codes else None,
                logs_of(ran),
                reason="stopped while serving",
            )
        return False

    # Never set: the wait wakes for signals (Ctrl-C, SIGTERM) and once a second.
    stop = threading.Event()
    wait_until(died, timeout=None, what="the endpoint's end", interval=1.0, pause=stop.wait)

"""One run's lifecycle: its id, labels and private directory, its SDK call, its clean-up.

Every Local Mode run is a `LocalRun`: a job in its container, a local pipeline execution, an
endpoint, a test's own SDK objects (`sm_session`). Entered, it has a run id, the session's
labels for it and a private directory under the session's root; its containers carry those
labels whichever SDK path starts them. Its SDK call runs in an `SdkThread` and is waited for
in the calling thread, where Ctrl-C lands; a timeout or an interrupt stops the run before the
caller goes on. Left, whatever happened, the run's compose process is killed, its containers
are removed and its directory is deleted; what a SIGKILL leaves, the reaper finds by label.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from mlmax.common import WaitTimeout, wait_until
from mlmax.localmode.engine import (
    current_session,
    docker_client,
    ensure_network,
    exit_codes,
    kill_processes,
    logs_of,
    new_run_id,
    remove_run,
    require_image,
    run_containers,
    started_since,
    with_container_user,
)
from mlmax.localmode.sdk import UNWIND_SECONDS, OfflineSession, SdkThread, remove_tree_or_warn

# How often a stopping run's compose processes and containers are looked for again.
STOP_INTERVAL = 0.5


class LocalRun:
    """One run's resources, released on exit; use as a context manager.

    `job` is the name its containers are labelled with; `id_prefix` (default `job`) starts
    its run id. With `image`, entering checks the image is in the engine and the shared
    network exists, so a missing image fails before anything is created.
    """

    def __init__(
        self,
        session: OfflineSession,
        job: str,
        *,
        image: str | None = None,
        id_prefix: str | None = None,
        memory: int | None = None,
    ) -> None:
        self.session = session
        # The containers' memory limit in bytes (None: the machine's memory); swap is not
        # added on top, so the limit is what the job gets, as on its instance.
        self.limits: dict[str, int] = (
            {"mem_limit": memory, "memswap_limit": memory} if memory is not None else {}
        )
        self.job = job
        self.image = image
        self.run_id = new_run_id(id_prefix or job)
        self.labels: dict[str, str] = current_session().for_run(job, self.run_id)
        self._root: Path | None = None

    @property
    def root(self) -> Path:
        """The run's private directory (0700), inside the session's root."""
        if self._root is None:
            raise RuntimeError("enter the LocalRun first: with LocalRun(...) as run")
        return self._root

    def __enter__(self) -> LocalRun:
        if self.image is not None:
            require_image(self.image)
            ensure_network(docker_client())
        self._root = self.session.run_dir(self.run_id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Kill the run's compose process, remove its containers and its directory."""
        if self._root is None:
            return
        kill_processes(self._root)
        remove_run(self.run_id)
        remove_tree_or_warn(self._root)

    # -- what the SDK is given ---------------------------------------------------------------
    def container_config(self) -> dict[str, Any]:
        """The compose service settings of the run's containers: its labels, the user and
        the memory limit."""
        return with_container_user({"labels": dict(self.labels), **self.limits})

    def sdk_session(self, container_root: Path | None = None, **options: Any) -> Any:
        """A LocalSession whose containers carry the run's labels (call inside `pinned()`)."""
        return self.session.local_session(
            container_root=container_root or self.root,
            container_config=self.container_config(),
            **options,
        )

    # -- the SDK call ------------------------------------------------------------------------
    def start_sdk_call(self, call: Callable[[], None], name: str | None = None) -> SdkThread:
        thread = SdkThread(name or f"mlmax-{self.run_id}", call)
        thread.start()
        return thread

    def wait_sdk_call(self, thread: SdkThread, timeout: float | None) -> bool:
        """Wait for the call: False if `timeout` passed first (the run still going: read its
        logs, then `stop`). Ctrl-C or a signal while waiting stops the run and propagates."""
        try:
            return thread.finished_within(timeout)
        except BaseException:
            self.stop(thread)
            raise

    def stop(self, thread: SdkThread | None = None) -> None:
        """Kill the run's compose processes and remove its containers until the SDK unwinds.

        Again and again, not once: while it unwinds the SDK may start what comes next (a local
        pipeline's executor starts the next step's compose when a step fails or before the
        first has begun), and compose may create a container between a kill and a removal.
        """

        def stopped() -> bool:
            kill_processes(self.root)
            remove_run(self.run_id)
            return thread is None or not thread.is_alive()

        with contextlib.suppress(WaitTimeout):  # still unwinding: left to the daemon thread
            wait_until(
                stopped,
                timeout=UNWIND_SECONDS,
                what=f"the SDK call of run {self.run_id} to unwind",
                interval=STOP_INTERVAL,
                pause=thread.join if thread is not None else time.sleep,
            )
        remove_run(self.run_id)

    # -- what ran ----------------------------------------------------------------------------
    def containers(self) -> list[Any]:
        """The run's containers, in the order they were created."""
        return run_containers(self.run_id)

    def was_started(self, since: float) -> bool:
        """Whether a container of the run was started at or after `since` (epoch seconds)."""
        return started_since(self.run_id, since)

    def logs(self, ran: list[Any] | None = None, tail_lines: int | None = None) -> str:
        """The logs of `ran` (default: the run's containers now), oldest container first."""
        return logs_of(self.containers() if ran is None else ran, tail_lines)

    def exit_codes(self, ran: list[Any] | None = None) -> list[int]:
        return exit_codes(self.containers() if ran is None else ran)

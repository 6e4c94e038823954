"""The Local Mode runner: an adapter from the pipeline's Runner onto mlmax.localmode.

All the work (job image, embedded S3, offline session, containers, clean-up) is done by
`mlmax.localmode`; this only ensures the image once, opens one `LocalMode` for the whole
pipeline and translates its results and errors into the runner vocabulary.

Independent steps run side by side (`max_parallel_steps`, as the pipeline's DAG allows): the
job's container does the work and the host process mostly waits, so two at once on two
cores overlap nearly all of a pipeline's independent work. An interrupt reaches the
scheduler's thread; `LocalMode.__exit__` then stops every running job of the session
(compose processes and containers).
"""

from __future__ import annotations

import contextlib
import io
import os
from types import TracebackType
from typing import Self

from mlmax.common import Progress, or_default
from mlmax.localmode.image import JobImages
from mlmax.project import JobRun, StepFailed, StepResult


class LocalModeRunner:
    """Runs each job in its SageMaker Local Mode container through the SDK."""

    name = "local"

    def __init__(
        self,
        *,
        image: str | None = None,
        timeout_seconds: float | None = None,
        progress: Progress | None = None,
        echo_sdk_output: bool = False,
        max_parallel_steps: int | None = None,
        memory: str | None = None,
    ) -> None:
        # Every job container's memory limit; None: each job's instance type's memory.
        self.memory = memory
        self._images: JobImages = JobImages(override=image, progress=progress)
        # Two at a time on two cores or more: each job's container has its own CPU budget,
        # and the host process mostly waits on compose.
        self.max_parallel_steps = max_parallel_steps or min(2, os.cpu_count() or 1)
        self.echo_sdk_output = echo_sdk_output
        self.timeout_seconds = timeout_seconds
        self._progress = or_default(progress)
        self._local: object | None = None

    def __enter__(self) -> Self:
        from mlmax.localmode.engine import require_docker
        from mlmax.localmode.run import LocalMode

        # Docker, its CLI and Compose first: without them nothing may be started or created
        # (no S3 server, no run directory), and the error is one sentence with the fix.
        require_docker().close()
        # Each job runs in its declared image, else mlmax's job image: each built only when
        # missing (content-hashed tag) and when a job first needs it.
        local = LocalMode(
            image=self._images.override or "",
            default_timeout=self.timeout_seconds,
            image_for=self._images,
            memory=self.memory,
        )
        local.__enter__()
        self._local = local
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        local, self._local = self._local, None
        if local is not None:
            local.__exit__(exc_type, exc, tb)  # type: ignore[attr-defined]

    @property
    def image(self) -> str:
        """The image mlmax's own jobs run in (built on first use when missing)."""
        return self._images.default()

    def _sdk_echo(self) -> contextlib.AbstractContextManager[object]:
        from mlmax.localmode.sdk import sdk_output_to

        if self.echo_sdk_output:
            return contextlib.nullcontext()
        return sdk_output_to(io.StringIO())

    def run_step(self, step_run: JobRun) -> StepResult:
        from mlmax.localmode.errors import (
            JobFailedError,
            JobOutOfDiskError,
            JobSetupError,
            JobTimeoutError,
        )
        from mlmax.localmode.run import LocalMode

        local = self._local
        if not isinstance(local, LocalMode):
            raise RuntimeError(
                "use the local runner as a context manager: `with LocalModeRunner():`"
            )
        job = step_run.job
        try:
            # The SDK echoes docker-compose's output from its worker thread; the job's log
            # comes back in the result, so keep the terminal for mlmax's lines.
            with self._sdk_echo():
                result = local.run(
                    job,
                    inputs=step_run.inputs,
                    outputs=step_run.outputs,
                    arguments=step_run.arguments,  # LocalMode adds the job's default ones
                )
        except JobTimeoutError as error:
            raise StepFailed(
                job.name,
                None,
                error.logs,
                reason=f"did not finish within {error.timeout:g} s and was stopped",
            ) from None
        except JobOutOfDiskError as error:
            # Not the job's fault, whatever it said: no exit code that would make its own
            # `error:` line (a write it could not make) the user's sentence.
            raise StepFailed(
                job.name, None, error.logs, reason=error.reason, fix=error.fix
            ) from None
        except JobFailedError as error:
            code = f" with exit code {error.exit_code}" if error.exit_code is not None else ""
            raise StepFailed(
                job.name,
                error.exit_code,
                error.logs,
                # The real cause when there is one (e.g. "wrote nothing to its output X").
                reason=error.reason or f"failed in its Local Mode container{code}",
                fix=error.fix if error.reason else "",
            ) from None
        except JobSetupError as error:
            raise StepFailed(job.name, None, "", reason=f"could not start: {error}") from None
        return StepResult(job.name, result.duration, result.logs.replace("\r\n", "\n"))

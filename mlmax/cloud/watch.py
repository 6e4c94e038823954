"""Waiting for a managed SageMaker job, done here rather than by the SDK.

The SDK's waiters sleep a fixed 10 s and print their own way. `JobWatcher` polls
Describe*Job, reports status transitions, streams the job's CloudWatch log lines when there
are any, and turns a failed job into one `StepFailed` that carries SageMaker's FailureReason.
Ctrl-C while waiting stops the managed job (it would go on costing money otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlmax.common import Progress, wait_until
from mlmax.project import StepFailed

DEFAULT_POLL_SECONDS = 15.0
_TERMINAL = {"Completed", "Failed", "Stopped"}


@dataclass(frozen=True)
class JobKindApi:
    """The Describe/Stop calls and field names of one kind of managed job."""

    describe: str
    stop: str
    name_field: str
    status_field: str
    log_group: str


PROCESSING_API = JobKindApi(
    "describe_processing_job",
    "stop_processing_job",
    "ProcessingJobName",
    "ProcessingJobStatus",
    "/aws/sagemaker/ProcessingJobs",
)
TRAINING_API = JobKindApi(
    "describe_training_job",
    "stop_training_job",
    "TrainingJobName",
    "TrainingJobStatus",
    "/aws/sagemaker/TrainingJobs",
)


class CloudWatchTail:
    """Reads new lines of a job's log streams on each call; silent while there are none."""

    def __init__(self, logs_client: Any, group: str, job_name: str) -> None:
        self._client = logs_client
        self._group = group
        self._job_name = job_name
        self._tokens: dict[str, str | None] = {}
        self.available = True

    def new_lines(self) -> list[str]:
        if not self.available:
            return []
        try:
            streams = self._client.describe_log_streams(
                logGroupName=self._group, logStreamNamePrefix=f"{self._job_name}/"
            ).get("logStreams", [])
        except self._client.exceptions.ResourceNotFoundException:
            return []  # the group or stream appears once the container has started
        except Exception:  # no permission or no endpoint: the job still runs, say so once
            self.available = False
            return []
        lines: list[str] = []
        for stream in sorted(s["logStreamName"] for s in streams):
            kwargs: dict[str, Any] = {
                "logGroupName": self._group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if self._tokens.get(stream):
                kwargs["nextToken"] = self._tokens[stream]
            response = self._client.get_log_events(**kwargs)
            lines += [event["message"] for event in response.get("events", [])]
            self._tokens[stream] = response.get("nextForwardToken")
        return lines


class JobWatcher:
    """Polls one managed job to its end, reporting status changes and log lines."""

    def __init__(
        self,
        sagemaker_client: Any,
        api: JobKindApi,
        job_name: str,
        *,
        step: str,
        logs: CloudWatchTail | None,
        progress: Progress,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._client = sagemaker_client
        self._api = api
        self.job_name = job_name
        self._step = step
        self._logs = logs
        self._progress = progress
        self._sleep = sleep
        self._poll_seconds = poll_seconds
        self.log_lines: list[str] = []

    def wait(self) -> dict[str, Any]:
        """The final Describe*Job response; StepFailed if the job failed or was stopped."""
        last_state: list[tuple[str, str]] = []  # the one state reported last

        def finished() -> dict[str, Any] | None:
            description: dict[str, Any] = getattr(self._client, self._api.describe)(
                **{self._api.name_field: self.job_name}
            )
            status = description[self._api.status_field]
            state = (status, description.get("SecondaryStatus", ""))
            if state not in last_state:
                detail = f" ({state[1]})" if state[1] and state[1] != status else ""
                self._progress(f"[{self._step}] {self.job_name}: {status}{detail}")
                last_state[:] = [state]
            self._pump_logs()
            return description if status in _TERMINAL else None

        try:
            # No deadline: a managed job ends on SageMaker's side (its own max runtime).
            description = wait_until(
                finished,
                timeout=None,
                what=f"SageMaker job {self.job_name}",
                interval=self._poll_seconds,
                pause=self._sleep,
            )
        except KeyboardInterrupt:
            self._stop()
            raise
        status = description[self._api.status_field]
        if status != "Completed":
            reason = description.get("FailureReason") or "gave no failure reason"
            raise StepFailed(
                self._step,
                None,
                "\n".join(self.log_lines),
                reason=f"{status.lower()} on SageMaker (job {self.job_name}): {reason}",
            )
        return description

    def _pump_logs(self) -> None:
        if self._logs is None:
            return
        was_available = self._logs.available
        for line in self._logs.new_lines():
            self.log_lines.append(line)
            self._progress(f"[{self._step}] {line}")
        if was_available and not self._logs.available:
            self._progress(f"[{self._step}] CloudWatch logs are not readable; status only")

    def _stop(self) -> None:
        self._progress(f"[{self._step}] interrupted: stopping {self.job_name} on SageMaker")
        try:
            getattr(self._client, self._api.stop)(**{self._api.name_field: self.job_name})
        except Exception as error:  # the interrupt matters more; say what is left running
            self._progress(
                f"[{self._step}] could not stop {self.job_name} ({error}); stop it in the console"
            )

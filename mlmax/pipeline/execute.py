"""Run a pipeline with any runner into a run directory, recording everything in pipeline.json.

Layout of a run directory (paths in pipeline.json are relative to it):

    inputs/<pipeline input>/<file>.csv   the data the run started from
    <step>/<output channel>/             one directory per step output
    logs/<step>.log                      what each job printed
    pipeline.json                        steps, status, durations, key metrics
    report/                              only once every step and the report succeeded

pipeline.json is rewritten after every step, so a failed or interrupted run still says what
happened (`run_record.py`); its `status` is `succeeded` only when the report is complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlmax.common import interruption_name
from mlmax.localmode.engine import Owner
from mlmax.pipeline.definition import Pipeline, PipelineInput, Ref, Step
from mlmax.pipeline.live_runs import forget, note_running
from mlmax.pipeline.run_record import RunRecord, StepRecord, now, write_record
from mlmax.project import JobRun, Runner, StepFailed, StepResult

REPORT_DIR = "report"


def output_dir(run_dir: Path, step: str, output: str) -> Path:
    return run_dir / step / output


def _job_run(step: Step, run_dir: Path, inputs: dict[str, Path]) -> JobRun:
    sources: dict[str, Path] = {}
    for channel, source in step.inputs.items():
        if isinstance(source, PipelineInput):
            sources[channel] = inputs[source.name]
        else:
            assert isinstance(source, Ref)
            sources[channel] = output_dir(run_dir, source.step, source.output)
    outputs = {c.name: output_dir(run_dir, step.name, c.name) for c in step.definition.outputs}
    return JobRun(step.definition, sources, outputs, step.arguments)


# Called before (finished=False) and after (finished=True) every step.
StepListener = Callable[[StepRecord, int, int, bool], None]
# Writes the report for a run whose steps all succeeded into the given directory.
ReportWriter = Callable[[Path, RunRecord, Path], None]
# The project's reading of one finished step's key metrics: (job, output dirs, log) -> metrics.
MetricsReader = Callable[[str, dict[str, Path], str], dict[str, float]]


def _relative(path: Path, run_dir: Path) -> str:
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)


def run_pipeline(
    pipeline: Pipeline,
    runner: Runner,
    inputs: dict[str, Path],
    run_dir: Path,
    *,
    options: dict[str, Any] | None = None,
    on_step: StepListener | None = None,
    write_report: ReportWriter | None = None,
    read_metrics: MetricsReader | None = None,
) -> RunRecord:
    """Run every step with an entered `runner`, each once its inputs exist.

    Returns the record (also in `run_dir/pipeline.json`). A failed step marks the run
    failed; no step starts after it (steps already running finish) and the rest stay
    `pending`. The report is written to a temporary directory and renamed to `report/` only
    when complete, so a `report/` directory always means success. `read_metrics` reads each
    finished step's key metrics into the record (none without it); an error it raises fails
    the step.
    """
    missing = set(pipeline.inputs) - set(inputs)
    if missing:
        raise ValueError(f"pipeline inputs not given: {sorted(missing)}")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    ordered = pipeline.order()
    runs = {step.name: _job_run(step, run_dir, inputs) for step in ordered}
    record = RunRecord(
        pipeline=pipeline.name,
        run_id=run_dir.name,
        runner=runner.name,
        status="running",
        started_at=now(),
        inputs={name: _relative(path, run_dir) for name, path in inputs.items()},
        options=dict(options or {}),
        owner=Owner.current().to_json(),
        steps=[
            StepRecord(
                name=step.name,
                job=step.job,
                inputs={k: _relative(v, run_dir) for k, v in runs[step.name].inputs.items()},
                outputs={k: _relative(v, run_dir) for k, v in runs[step.name].outputs.items()},
                arguments=runs[step.name].all_arguments,
            )
            for step in ordered
        ],
    )
    write_record(run_dir, record)
    note_running(run_dir)  # so a sweep finds this record if we are killed, wherever it is
    started = time.perf_counter()
    parallel = max(1, int(getattr(runner, "max_parallel_steps", 1)))
    try:
        scheduler = _Scheduler(record, ordered, runs, runner, run_dir, on_step, read_metrics)
        ok = scheduler.run_in_order() if parallel == 1 else scheduler.run_parallel(parallel)
        if ok:
            if write_report is not None:
                _report(record, run_dir, write_report)
            if record.status == "running":
                record.status = "succeeded"
    except KeyboardInterrupt as interruption:  # Ctrl-C, SIGTERM, SIGHUP (mlmax.common.termination)
        _stop_running_steps(
            record, "interrupted", f"interrupted ({interruption_name(interruption)})"
        )
        raise
    except BaseException as error:
        # Not a step failure (a runner that broke, a full disk): the record must still end,
        # or it would say "running" for ever.
        _stop_running_steps(record, "failed", f"{type(error).__name__}: {error}")
        raise
    finally:
        record.finished_at = now()
        record.duration_seconds = round(time.perf_counter() - started, 3)
        write_record(run_dir, record)
        forget(run_dir)
    return record


def _stop_running_steps(record: RunRecord, status: str, error: str) -> None:
    record.status = status
    record.error = error
    for step_record in record.steps:
        if step_record.status == "running":
            step_record.status = "failed"
            step_record.error = status


_Outcome = tuple[StepResult | None, StepFailed | None]


def _call(runner: Runner, job_run: JobRun) -> _Outcome:
    try:
        return runner.run_step(job_run), None
    except StepFailed as failure:
        return None, failure


class _Scheduler:
    """Starts steps whose inputs are ready and records each outcome (in the calling thread).

    With one step at a time the runner is called in the calling thread, which is where
    Ctrl-C lands (the Local Mode runner relies on that to stop its containers). Runners that
    can run several jobs at once (`max_parallel_steps` > 1, the host runner) get a thread per
    running step; the record is still only touched by the calling thread.
    """

    def __init__(
        self,
        record: RunRecord,
        ordered: list[Step],
        runs: dict[str, JobRun],
        runner: Runner,
        run_dir: Path,
        on_step: StepListener | None,
        read_metrics: MetricsReader | None,
    ) -> None:
        self.record = record
        self.ordered = ordered
        self.runs = runs
        self.runner = runner
        self.run_dir = run_dir
        self.on_step = on_step
        self.read_metrics = read_metrics
        self.position = {step.name: i for i, step in enumerate(ordered, start=1)}
        self.started: dict[str, float] = {}

    def run_in_order(self) -> bool:
        for step in self.ordered:
            self._start(step)
            if not self._finish(step, _call(self.runner, self.runs[step.name])):
                return False
        return True

    def run_parallel(self, parallel: int) -> bool:
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        pending = list(self.ordered)
        done: set[str] = set()
        running: dict[Future[_Outcome], Step] = {}
        failed = False
        pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="mlmax-step")
        try:
            while pending or running:
                ready = [s for s in pending if set(s.upstream) <= done] if not failed else []
                for step in ready[: parallel - len(running)]:
                    pending.remove(step)
                    self._start(step)
                    running[pool.submit(_call, self.runner, self.runs[step.name])] = step
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: self.position[running[f].name]):
                    step = running.pop(future)
                    if self._finish(step, future.result()):
                        done.add(step.name)
                    else:
                        failed = True  # start nothing new; let the running steps finish
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return not failed

    def _start(self, step: Step) -> None:
        step_record = self.record.step(step.name)
        step_record.status = "running"
        step_record.log = _relative(self._log_path(step), self.run_dir)
        self.started[step.name] = time.perf_counter()
        write_record(self.run_dir, self.record)
        self._announce(step_record, finished=False)

    def _finish(self, step: Step, outcome: _Outcome) -> bool:
        result, failure = outcome
        step_record = self.record.step(step.name)
        log_path = self._log_path(step)
        if failure is not None:
            log_path.write_text(failure.log)
            step_record.exit_code = failure.exit_code
            step_record.duration_seconds = round(time.perf_counter() - self.started[step.name], 3)
            self._fail(step_record, failure.error_line or failure.reason, failure.describe())
            return False
        assert result is not None
        log_path.write_text(result.log)
        step_record.duration_seconds = round(result.duration_seconds, 3)
        try:
            outputs = self.runs[step.name].outputs
            if self.read_metrics is not None:
                step_record.metrics = self.read_metrics(step_record.job, outputs, result.log)
        except (OSError, ValueError, KeyError) as error:
            # The job said it succeeded but its outputs are not what the contract promises.
            message = f"outputs do not follow the job contract: {error}"
            self._fail(step_record, message, message)
            return False
        step_record.status = "succeeded"
        write_record(self.run_dir, self.record)
        self._announce(step_record, finished=True)
        return True

    def _fail(self, step_record: StepRecord, error: str, detail: str) -> None:
        step_record.status = "failed"
        step_record.error = error
        if self.record.status == "running":  # the first failure names the run's error
            self.record.status = "failed"
            self.record.error = f"step {step_record.name!r}: {detail}"
        write_record(self.run_dir, self.record)
        self._announce(step_record, finished=True)

    def _log_path(self, step: Step) -> Path:
        return self.run_dir / "logs" / f"{step.name}.log"

    def _announce(self, step_record: StepRecord, *, finished: bool) -> None:
        if self.on_step:
            self.on_step(step_record, self.position[step_record.name], len(self.ordered), finished)


def _report(record: RunRecord, run_dir: Path, write_report: ReportWriter) -> None:
    import shutil
    import tempfile

    final = run_dir / REPORT_DIR
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=run_dir))
    try:
        write_report(run_dir, record, staging)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        record.report = _relative(final, run_dir)
    except Exception as error:
        record.status = "failed"
        record.error = f"report: {type(error).__name__}: {error}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""Run a pipeline with any runner into a run directory, recording everything in pipeline.json.

Layout of a run directory (paths in pipeline.json are relative to it):

    inputs/<pipeline input>/<file>.csv   the data the run started from
    <step>/<output channel>/             one directory per step output
    logs/<step>.log                      what each job printed
    pipeline.json                        steps, status, durations, key metrics
    report/                              only once every step and the report succeeded

pipeline.json is rewritten after every step, so a failed or interrupted run still says what
happened; its `status` is `succeeded` only when the report is complete.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlmax.catalog import JobRun
from mlmax.pipeline.definition import Pipeline, PipelineInput, Ref, Step
from mlmax.pipeline.metrics import step_metrics
from mlmax.runners.base import Runner, StepFailed

RECORD_FILE = "pipeline.json"
REPORT_DIR = "report"


@dataclass
class StepRecord:
    name: str
    job: str
    status: str = "pending"  # pending -> running -> succeeded | failed
    duration_seconds: float | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    log: str | None = None
    error: str | None = None


@dataclass
class RunRecord:
    """Everything pipeline.json says about one run."""

    pipeline: str
    run_id: str
    runner: str
    status: str  # running -> succeeded | failed | interrupted
    started_at: str
    inputs: dict[str, str]
    steps: list[StepRecord]
    options: dict[str, Any] = field(default_factory=dict)
    finished_at: str | None = None
    duration_seconds: float | None = None
    error: str | None = None
    report: str | None = None

    def step(self, name: str) -> StepRecord:
        return next(s for s in self.steps if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        steps = [StepRecord(**s) for s in data["steps"]]
        return cls(**{**data, "steps": steps})


def load_record(run_dir: Path) -> RunRecord:
    return RunRecord.from_json(json.loads((run_dir / RECORD_FILE).read_text()))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_record(run_dir: Path, record: RunRecord) -> None:
    _write_atomic(run_dir / RECORD_FILE, json.dumps(record.to_json(), indent=2) + "\n")


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


def _relative(path: Path, run_dir: Path) -> str:
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)


def execute(
    pipeline: Pipeline,
    runner: Runner,
    inputs: dict[str, Path],
    run_dir: Path,
    *,
    options: dict[str, Any] | None = None,
    on_step: StepListener | None = None,
    write_report: ReportWriter | None = None,
) -> RunRecord:
    """Run every step in order with an entered `runner`; stop at the first failure.

    Returns the record (also in `run_dir/pipeline.json`). A failed step marks the run failed;
    the steps after it stay `pending`. The report is written to a temporary directory and
    renamed to `report/` only when complete, so a `report/` directory always means success.
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
        started_at=_now(),
        inputs={name: _relative(path, run_dir) for name, path in inputs.items()},
        options=dict(options or {}),
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
    started = time.perf_counter()
    try:
        for index, step in enumerate(ordered, start=1):
            if not _run_one(
                record,
                record.step(step.name),
                runs[step.name],
                runner,
                run_dir,
                index,
                len(ordered),
                on_step,
            ):
                break
        else:
            if write_report is not None:
                _report(record, run_dir, write_report)
            if record.status == "running":
                record.status = "succeeded"
    except KeyboardInterrupt:
        record.status = "interrupted"
        record.error = "interrupted (Ctrl-C)"
        for step_record in record.steps:
            if step_record.status == "running":
                step_record.status = "failed"
                step_record.error = "interrupted"
        raise
    finally:
        record.finished_at = _now()
        record.duration_seconds = round(time.perf_counter() - started, 3)
        write_record(run_dir, record)
    return record


def _run_one(
    record: RunRecord,
    step_record: StepRecord,
    job_run: JobRun,
    runner: Runner,
    run_dir: Path,
    index: int,
    total: int,
    on_step: StepListener | None,
) -> bool:
    step_record.status = "running"
    write_record(run_dir, record)
    if on_step:
        on_step(step_record, index, total, False)
    log_path = run_dir / "logs" / f"{step_record.name}.log"
    step_record.log = _relative(log_path, run_dir)
    started = time.perf_counter()
    try:
        result = runner.run_step(job_run)
    except StepFailed as failure:
        log_path.write_text(failure.log)
        step_record.status = "failed"
        step_record.duration_seconds = round(time.perf_counter() - started, 3)
        step_record.error = failure.error_line or failure.reason
        record.status = "failed"
        record.error = f"step {step_record.name!r}: {failure.describe()}"
        if on_step:
            on_step(step_record, index, total, True)
        return False
    log_path.write_text(result.log)
    step_record.duration_seconds = round(result.duration_seconds, 3)
    try:
        step_record.metrics = step_metrics(step_record.job, job_run.outputs, result.log)
    except (OSError, ValueError, KeyError) as error:
        # The job said it succeeded but its outputs are not what the contract promises.
        step_record.status = "failed"
        step_record.error = f"outputs do not follow the job contract: {error}"
        record.status = "failed"
        record.error = f"step {step_record.name!r}: {step_record.error}"
        if on_step:
            on_step(step_record, index, total, True)
        return False
    step_record.status = "succeeded"
    write_record(run_dir, record)
    if on_step:
        on_step(step_record, index, total, True)
    return True


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

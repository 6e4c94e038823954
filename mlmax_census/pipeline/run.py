"""One call for a whole census run: stage (or generate) the data, run the pipeline, report."""

from __future__ import annotations

from pathlib import Path

from mlmax.pipeline import ReportWriter, RunRecord, StepListener, run_pipeline
from mlmax.project import Runner
from mlmax_census.pipeline.definition import TrainingOptions, census_pipeline
from mlmax_census.pipeline.inputs import DataSpec, stage_inputs
from mlmax_census.pipeline.metrics import step_metrics


def run_census(
    runner: Runner,
    run_dir: Path,
    data: DataSpec,
    options: TrainingOptions,
    *,
    on_step: StepListener | None = None,
    write_report: ReportWriter | None = None,
) -> RunRecord:
    """Stage (or generate) the data into `run_dir`, then run the census pipeline.

    Raises InputDataError before anything runs when a user's file is unusable. `runner` must
    be entered already (it is a context manager).
    """
    inputs = stage_inputs(run_dir, data)
    recorded = {
        "model_type": options.model_type,
        "seed": options.seed,
        **{k: str(v) for k, v in data.describe().items()},
    }
    return run_pipeline(
        census_pipeline(options),
        runner,
        inputs,
        run_dir,
        options=recorded,
        on_step=on_step,
        write_report=write_report,
        read_metrics=step_metrics,
    )

"""The report from a run directory whose outputs follow the job contract."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mlmax.pipeline.run_record import RunRecord, StepRecord
from mlmax_census.pipeline import census_pipeline
from mlmax_census.report import REPORT_FILES, ReportError, write_report
from tests.census.report.conftest import assert_valid_png

EVALUATION = {
    "metrics": {"accuracy": 0.9, "roc_auc": 0.85, "precision": 0.7, "recall": 0.4, "f1": 0.51},
    "per_class": {},
    "confusion_matrix": [[80, 5], [5, 10]],
    "roc_curve": {"fpr": [0.0, 0.1, 0.3, 1.0], "tpr": [0.0, 0.6, 0.8, 1.0]},
    "n_samples": 100,
}
DRIFT = {
    "threshold": 0.2,
    "features": {
        "age": {"psi": 0.31, "drift": True},
        "capital gains": {"psi": 0.05, "drift": False},
    },
    "drift_detected": True,
}


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _contract_run(run_dir: Path) -> RunRecord:
    """A run directory as the census pipeline leaves it, with hand-made contract outputs."""
    steps = []
    for step in census_pipeline().order():
        outputs = {c.name: f"{step.name}/{c.name}" for c in step.definition.outputs}
        for relative in outputs.values():
            (run_dir / relative).mkdir(parents=True)
        steps.append(
            StepRecord(
                name=step.name,
                job=step.job,
                status="succeeded",
                duration_seconds=1.5,
                outputs=outputs,
                arguments=list(step.arguments),
                metrics={"accuracy": 0.9} if step.job == "evaluation" else {},
            )
        )
    (run_dir / "evaluation/evaluation/evaluation.json").write_text(json.dumps(EVALUATION))
    (run_dir / "monitoring/monitoring/drift.json").write_text(json.dumps(DRIFT))
    _write_csv(
        run_dir / "inference/predictions/predictions.csv",
        ["prediction", "probability"],
        [[1, 0.9], [0, 0.2], [0, 0.1], [1, 0.7]],
    )
    _write_csv(
        run_dir / "preprocessing-infer/labels/infer_labels.csv", ["income"], [[1], [0], [1], [1]]
    )
    return RunRecord(
        pipeline="census",
        run_id=run_dir.name,
        runner="host",
        status="running",
        started_at="2026-01-01T00:00:00+00:00",
        inputs={},
        steps=steps,
        options={"seed": 42},
    )


def test_every_report_file_is_written_and_every_png_is_a_real_image(tmp_path: Path) -> None:
    record = _contract_run(tmp_path / "run")
    out = tmp_path / "report"
    write_report(tmp_path / "run", record, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)
    for png in out.glob("*.png"):
        assert_valid_png(png)


def test_metrics_table_and_predictions_summary_hold_the_runs_numbers(tmp_path: Path) -> None:
    record = _contract_run(tmp_path / "run")
    out = tmp_path / "report"
    write_report(tmp_path / "run", record, out)
    with (out / "metrics.csv").open() as handle:
        metrics = {row["metric"]: float(row["value"]) for row in csv.DictReader(handle)}
    assert metrics == EVALUATION["metrics"]
    summary = json.loads((out / "predictions_summary.json").read_text())
    assert summary["rows"] == 4
    assert summary["predicted_positive"] == 2
    assert summary["positive_rate"] == pytest.approx(0.5)
    assert summary["mean_probability"] == pytest.approx(0.475)
    # Labels 1,0,1,1 against predictions 1,0,0,1: three of four right.
    assert summary["accuracy_on_new_data"] == pytest.approx(0.75)


def _markdown_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table row (columns are padded to line up)."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith("|")
    ]


def test_the_page_ties_tables_and_pictures_together(tmp_path: Path) -> None:
    record = _contract_run(tmp_path / "run")
    out = tmp_path / "report"
    write_report(tmp_path / "run", record, out)
    markdown = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for png in ("roc_curve.png", "confusion_matrix.png", "drift_psi.png"):
        assert f"]({png})" in markdown
        assert f'src="{png}"' in page
    rows = _markdown_rows(markdown)
    assert ["ROC AUC", "0.8500"] in rows
    assert "Drift detected (PSI above 0.2) in 1 of 2 features." in markdown
    assert ["age", "0.3100", "yes"] in rows
    assert "<td>evaluation</td><td>succeeded</td>" in page


def test_missing_evaluation_output_is_an_error_not_a_partial_page(tmp_path: Path) -> None:
    record = _contract_run(tmp_path / "run")
    (tmp_path / "run/evaluation/evaluation/evaluation.json").unlink()
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "run", record, tmp_path / "report")
    assert not (tmp_path / "report" / "report.md").exists()


def test_a_run_without_the_monitoring_step_is_refused(tmp_path: Path) -> None:
    record = _contract_run(tmp_path / "run")
    record.steps = [s for s in record.steps if s.job != "monitoring"]
    with pytest.raises(ReportError, match="no monitoring step"):
        write_report(tmp_path / "run", record, tmp_path / "report")

"""The run report: a metrics table, charts and a page (Markdown and HTML) tying them together.

Reads only the run directory (pipeline.json's record and the steps' output files), so it
works the same whichever runner produced the outputs.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlmax.common import MlmaxError, html_table, render
from mlmax.pipeline import RunRecord, StepRecord
from mlmax_census.pipeline import headline
from mlmax_census.report import charts

REPORT_FILES = (
    "report.md",
    "report.html",
    "metrics.csv",
    "roc_curve.png",
    "confusion_matrix.png",
    "drift_psi.png",
    "predictions_histogram.png",
    "predictions_summary.json",
)

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "roc_auc": "ROC AUC",
    "precision": "Precision (income > 50k)",
    "recall": "Recall (income > 50k)",
    "f1": "F1 (income > 50k)",
}


class ReportError(MlmaxError, ValueError):
    """The run's outputs lack something the report needs."""


def _step_by_job(record: RunRecord, job: str) -> StepRecord:
    for step in record.steps:
        if step.job == job:
            return step
    raise ReportError(f"the run has no {job} step, which the report needs")


def _output(run_dir: Path, record: RunRecord, job: str, channel: str) -> Path:
    return run_dir / _step_by_job(record, job).outputs[channel]


def _argument(step: StepRecord, option: str, default: float) -> float:
    args = step.arguments
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a == option]
    return float(values[-1]) if values else default


@dataclass
class _Page:
    """Sections of the report as (title, markdown, html) triples."""

    sections: list[tuple[str, str, str]]

    def add(self, title: str, markdown: str, body_html: str) -> None:
        self.sections.append((title, markdown, body_html))


def _table(headers: list[str], rows: list[list[str]]) -> tuple[str, str]:
    return render(headers, rows, markdown=True), html_table(headers, rows)


def _image(name: str, alt: str) -> tuple[str, str]:
    return f"![{alt}]({name})", f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">'


def _steps_section(record: RunRecord) -> tuple[str, str]:
    rows = [
        [
            step.name,
            step.status,
            f"{step.duration_seconds:.1f} s" if step.duration_seconds is not None else "-",
            headline(step.job, step.metrics),
        ]
        for step in record.steps
    ]
    return _table(["step", "status", "duration", "key metrics"], rows)


def _evaluation(run_dir: Path, record: RunRecord, out: Path, page: _Page) -> dict[str, Any]:
    evaluation = json.loads(
        (_output(run_dir, record, "evaluation", "evaluation") / "evaluation.json").read_text()
    )
    metrics = evaluation["metrics"]
    rows = [[METRIC_LABELS.get(k, k), f"{float(v):.4f}"] for k, v in metrics.items()]
    pd.DataFrame({"metric": list(metrics), "value": [float(v) for v in metrics.values()]}).to_csv(
        out / "metrics.csv", index=False
    )
    md, body = _table(["metric", "value"], rows)
    note = f"On {evaluation['n_samples']} held-out test rows."
    page.add("Model metrics", f"{note}\n\n{md}", f"<p>{note}</p>{body}")

    roc = evaluation["roc_curve"]
    charts.roc_curve(roc["fpr"], roc["tpr"], float(metrics["roc_auc"]), out / "roc_curve.png")
    charts.confusion_matrix(
        evaluation["confusion_matrix"], ["<= 50k", "> 50k"], out / "confusion_matrix.png"
    )
    roc_md, roc_html = _image("roc_curve.png", "ROC curve")
    cm_md, cm_html = _image("confusion_matrix.png", "Confusion matrix")
    page.add("ROC curve and confusion matrix", f"{roc_md}\n{cm_md}", roc_html + cm_html)
    return metrics


def _drift(run_dir: Path, record: RunRecord, out: Path, page: _Page) -> dict[str, Any]:
    drift = json.loads(
        (_output(run_dir, record, "monitoring", "monitoring") / "drift.json").read_text()
    )
    threshold = float(drift["threshold"])
    psi = {name: float(f["psi"]) for name, f in drift["features"].items()}
    charts.drift_psi(psi, threshold, out / "drift_psi.png")
    rows = [
        [name, f"{psi[name]:.4f}", "yes" if drift["features"][name]["drift"] else "no"]
        for name in sorted(psi, key=psi.__getitem__, reverse=True)
    ]
    md, body = _table(["feature", "PSI", "drift"], rows)
    verdict = (
        f"Drift detected (PSI above {threshold:g}) in "
        f"{sum(r[2] == 'yes' for r in rows)} of {len(rows)} features."
        if drift["drift_detected"]
        else f"No feature drifted beyond PSI {threshold:g}."
    )
    image_md, image_html = _image("drift_psi.png", "PSI drift per feature")
    page.add(
        "Data drift (monitoring)",
        f"{verdict}\n\n{image_md}\n\n{md}",
        f"<p>{html.escape(verdict)}</p>{image_html}{body}",
    )
    return drift


def _predictions(run_dir: Path, record: RunRecord, out: Path, page: _Page) -> dict[str, Any]:
    predictions = pd.read_csv(
        _output(run_dir, record, "inference", "predictions") / "predictions.csv"
    )
    threshold = _argument(_step_by_job(record, "inference"), "--threshold", 0.5)
    summary: dict[str, Any] = {
        "rows": len(predictions),
        "predicted_positive": int(predictions["prediction"].sum()),
        "positive_rate": float(predictions["prediction"].mean()),
        "mean_probability": float(predictions["probability"].mean()),
        "threshold": threshold,
    }
    # Present when the new batch came with labels (preprocessing in infer mode keeps them).
    labels_file = _output(run_dir, record, "preprocessing-infer", "labels") / "infer_labels.csv"
    if labels_file.is_file():
        labels = pd.read_csv(labels_file)["income"]
        known = labels.notna().to_numpy()
        if len(labels) == len(predictions) and known.any():
            labels, predicted = labels[known].astype(int), predictions["prediction"][known]
            summary["actual_positive_rate"] = float(labels.mean())
            summary["accuracy_on_new_data"] = float(
                (labels.to_numpy() == predicted.to_numpy()).mean()
            )
    (out / "predictions_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    charts.probability_histogram(
        predictions["probability"].tolist(), threshold, out / "predictions_histogram.png"
    )
    rows = [
        ["rows scored", str(summary["rows"])],
        [
            "predicted income > 50k",
            f"{summary['predicted_positive']} ({summary['positive_rate']:.1%})",
        ],
        ["mean probability", f"{summary['mean_probability']:.4f}"],
    ]
    if "accuracy_on_new_data" in summary:
        rows += [
            ["actual income > 50k", f"{summary['actual_positive_rate']:.1%}"],
            ["accuracy on new data", f"{summary['accuracy_on_new_data']:.4f}"],
        ]
    else:  # scoring unlabelled data is the normal case: say so rather than leave a gap
        rows.append(["accuracy on new data", "unknown: the new data has no labels"])
    md, body = _table(["", "value"], rows)
    image_md, image_html = _image("predictions_histogram.png", "Predicted probabilities")
    page.add("Batch inference on new data", f"{md}\n\n{image_md}", body + image_html)
    return summary


def _render_markdown(record: RunRecord, intro: str, page: _Page) -> str:
    parts = [f"# mlmax run {record.run_id}", "", intro, ""]
    for title, markdown, _ in page.sections:
        parts += [f"## {title}", "", markdown, ""]
    return "\n".join(parts)


_STYLE = (
    "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;"
    "text-align:left}th{background:#f3f3f3}img{max-width:100%;margin:0.5em 1em 0.5em 0}"
)


def _render_html(record: RunRecord, intro: str, page: _Page) -> str:
    sections = "".join(f"<h2>{html.escape(title)}</h2>{body}" for title, _, body in page.sections)
    title = html.escape(f"mlmax run {record.run_id}")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1><p>{html.escape(intro)}</p>"
        f"{sections}</body></html>\n"
    )


def write_report(run_dir: Path, record: RunRecord, out: Path) -> None:
    """Write every report file into `out` (the executor renames it to report/ when done)."""
    out.mkdir(parents=True, exist_ok=True)
    page = _Page([])
    steps_md, steps_html = _steps_section(record)
    page.add("Steps", steps_md, steps_html)
    _evaluation(run_dir, record, out, page)
    _predictions(run_dir, record, out, page)
    _drift(run_dir, record, out, page)
    options = ", ".join(f"{k} {v}" for k, v in record.options.items())
    intro = (
        f"Pipeline `{record.pipeline}` on the `{record.runner}` runner, started "
        f"{record.started_at}" + (f"; {options}." if options else ".")
    )
    (out / "report.md").write_text(_render_markdown(record, intro, page))
    (out / "report.html").write_text(_render_html(record, intro.replace("`", ""), page))

"""The report's pictures, drawn with matplotlib's object API on the Agg canvas.

No pyplot: a Figure built directly has no global state and no GUI backend, so this works in
any process (tests, CI, a headless container) and never leaks open figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, format="png")


def roc_curve(fpr: Sequence[float], tpr: Sequence[float], auc: float, path: Path) -> None:
    figure = Figure(figsize=(5, 5))
    axes = figure.add_subplot()
    axes.plot(fpr, tpr, color="tab:blue", linewidth=2, label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="False positive rate",
        ylabel="True positive rate",
        title="ROC curve (test set)",
    )
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    _save(figure, path)


def confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path) -> None:
    figure = Figure(figsize=(5, 4.4))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if count > top / 2 else "black"
            axes.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=13)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set(xlabel="Predicted", ylabel="Actual", title="Confusion matrix (test set)")
    _save(figure, path)


def drift_psi(psi: dict[str, float], threshold: float, path: Path) -> None:
    names = sorted(psi, key=psi.__getitem__)
    values = [psi[n] for n in names]
    colours = ["tab:red" if v > threshold else "tab:green" for v in values]
    figure = Figure(figsize=(7, 0.45 * len(names) + 1.6))
    axes = figure.add_subplot()
    axes.barh(names, values, color=colours)
    axes.axvline(
        threshold,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"drift threshold {threshold:g}",
    )
    axes.set(
        xlabel="Population stability index (PSI)",
        title="Drift per feature: new data vs training data",
    )
    axes.set_xlim(0, max([*values, threshold]) * 1.15 or 1)
    axes.legend(loc="best")
    axes.grid(axis="x", alpha=0.3)
    _save(figure, path)


def probability_histogram(probabilities: Sequence[float], threshold: float, path: Path) -> None:
    figure = Figure(figsize=(6, 3.6))
    axes = figure.add_subplot()
    axes.hist(probabilities, bins=40, range=(0, 1), color="tab:blue", alpha=0.8)
    axes.axvline(
        threshold,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"decision threshold {threshold:g}",
    )
    axes.set(
        xlabel="Predicted probability of income over 50k",
        ylabel="Rows",
        title="Batch inference: predicted probabilities",
    )
    axes.legend()
    _save(figure, path)

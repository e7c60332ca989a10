"""Figures the labs look at: ROC curves, confusion matrices, learning curves and time series (matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def _new_figure(size: tuple[float, float]) -> tuple[Figure, object]:
    # Closed at once: pyplot keeps no reference (no leak in loops) and Jupyter does not show it
    # twice; the figure still displays as a cell's value and saves with fig.savefig / log_figure.
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size, layout="constrained")
    plt.close(fig)
    return fig, fig.add_subplot()


def roc_figure(y_true, scores: Mapping[str, Sequence[float]] | Sequence[float], title: str = "ROC curve",
               size: tuple[float, float] = (4.5, 4.0)) -> Figure:
    """ROC curve(s) of scores against binary labels ``y_true``, with the AUC in the legend.

    ``scores`` is one array of scores, or a mapping ``{label: scores}`` to compare models.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    curves = scores if isinstance(scores, Mapping) else {"model": scores}
    fig, ax = _new_figure(size)
    for label, score in curves.items():
        fpr, tpr, _ = roc_curve(y_true, score)
        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title,
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize="small")
    return fig


def confusion_figure(y_true, y_pred, labels: Sequence | None = None, title: str = "Confusion matrix",
                     size: tuple[float, float] = (4.0, 3.6)) -> Figure:
    """A confusion matrix with counts in the cells (rows: true class, columns: predicted class)."""
    from sklearn.metrics import confusion_matrix

    labels = list(labels) if labels is not None else sorted(set(np.asarray(y_true)) | set(np.asarray(y_pred)))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    fig, ax = _new_figure(size)
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = range(len(labels))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true", title=title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in ticks:
        for j in ticks:
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > threshold else "black")
    return fig


def curves_figure(curves: Mapping[str, Sequence[float]], xlabel: str = "iteration", ylabel: str = "loss",
                  title: str | None = None, steps: Mapping[str, Sequence[float]] | None = None,
                  size: tuple[float, float] = (5.5, 3.6)) -> Figure:
    """Learning curves: one line per named series (e.g. ``{"train": [...], "validation": [...]}``).

    ``steps`` optionally gives each series its x values (default 1, 2, ...), as event files and
    tracking stores record them.
    """
    fig, ax = _new_figure(size)
    for label, values in curves.items():
        x = steps[label] if steps and label in steps else np.arange(1, len(values) + 1)
        ax.plot(x, values, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title or f"{ylabel} per {xlabel}")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize="small")
    return fig


def loss_figure(train: Sequence[float], validation: Sequence[float] | None = None, xlabel: str = "iteration",
                ylabel: str = "log loss") -> Figure:
    """The usual loss curve: training loss and, if given, validation loss per iteration."""
    curves: dict[str, Sequence[float]] = {"train": train}
    if validation is not None:
        curves["validation"] = validation
    return curves_figure(curves, xlabel=xlabel, ylabel=ylabel, title="Loss curve")


def timeseries_figure(frame, by: str | Sequence[str] | None = None, title: str = "", ylabel: str = "",
                      thresholds: Sequence[float] = (), size: tuple[float, float] = (6.0, 3.2)) -> Figure:
    """A time-series panel: ``frame`` has ``time`` and ``value`` columns (as from Prometheus'
    ``query_range``), one line per value of the label(s) ``by``, dashed lines at ``thresholds``."""
    fig, ax = _new_figure(size)
    labels = [by] if isinstance(by, str) else list(by or [])
    labels = [label for label in labels if label in frame.columns]
    groups = frame.groupby(labels, dropna=False) if labels else [((), frame)]
    for key, series in groups:
        key = key if isinstance(key, tuple) else (key,)
        name = ", ".join(str(k) for k in key) if labels else None
        ax.plot(series["time"], series["value"], label=name)
    for value in thresholds:
        ax.axhline(value, color="red", linestyle="--", linewidth=1, alpha=0.7)
    ax.set(title=title, ylabel=ylabel, xlabel="time (UTC)")
    ax.grid(alpha=0.3)
    if labels and len(frame):
        ax.legend(fontsize="small", loc="best")
    fig.autofmt_xdate()
    return fig

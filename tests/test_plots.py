"""The shared figures: right content, no pyplot leak, savable as PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from opslab.plots import confusion_figure, curves_figure, loss_figure, roc_figure  # noqa: E402

Y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
GOOD = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7, 0.4, 0.6])  # ranks perfectly: AUC 1
RANDOM = np.array([0.5, 0.9, 0.1, 0.6, 0.2, 0.4, 0.8, 0.3])


def test_roc_figure_draws_one_curve_per_model_with_its_auc(tmp_path):
    fig = roc_figure(Y, {"good": GOOD, "random": RANDOM})
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "good (AUC 1.000)"
    assert labels[1].startswith("random (AUC ") and labels[2] == "chance"
    fig.savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG"


def test_roc_figure_accepts_a_single_score_array():
    fig = roc_figure(Y, GOOD)
    assert len(fig.axes[0].lines) == 2  # the model and the chance diagonal


def test_confusion_figure_writes_the_counts():
    fig = confusion_figure(Y, (GOOD >= 0.75).astype(int), labels=[0, 1])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["4", "0", "2", "2"]  # rows: true 0, true 1; columns: predicted 0, predicted 1


def test_curves_and_loss_figures_plot_every_series():
    fig = curves_figure({"a": [3, 2, 1], "b": [4, 3]}, steps={"a": [10, 20, 30]}, ylabel="loss")
    lines = fig.axes[0].lines
    assert list(lines[0].get_xdata()) == [10, 20, 30] and list(lines[1].get_xdata()) == [1, 2]
    loss = loss_figure([1.0, 0.5], [1.1, 0.7])
    assert [t.get_text() for t in loss.axes[0].get_legend().get_texts()] == ["train", "validation"]


def test_figures_are_not_kept_by_pyplot():
    before = plt.get_fignums()
    for _ in range(3):
        roc_figure(Y, GOOD)
        confusion_figure(Y, Y)
        loss_figure([1.0, 0.5])
    assert plt.get_fignums() == before


def test_timeseries_figure_draws_one_line_per_series_and_the_thresholds():
    import pandas as pd

    from opslab.plots import timeseries_figure

    times = pd.to_datetime([0, 1, 2, 0, 1, 2], unit="s", utc=True)
    frame = pd.DataFrame({"time": times, "value": [0.1, 0.2, 0.3, 0.0, 0.05, 0.4],
                          "feature": ["age", "age", "age", "plan", "plan", "plan"]})
    ax = timeseries_figure(frame, by="feature", title="PSI", thresholds=[0.1, 0.25]).axes[0]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["age", "plan"]
    assert len(ax.lines) == 4 and ax.get_title() == "PSI"
    empty = timeseries_figure(frame.iloc[0:0], by="feature").axes[0]
    assert len(empty.lines) == 0

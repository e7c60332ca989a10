"""The demo's two pictures: how the churn probabilities spread, and which features drive them."""

from __future__ import annotations

from matplotlib.figure import Figure  # no pyplot: figures are not kept in a global registry


def probability_histogram(probabilities, threshold: float = 0.5) -> Figure:
    """A histogram of P(churn) over the scored customers, with the decision threshold marked."""
    fig = Figure(figsize=(5.5, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.hist(probabilities, bins=20, range=(0, 1), color="#4c72b0", edgecolor="white")
    ax.axvline(threshold, color="#c44e52", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("predicted probability of churn")
    ax.set_ylabel("customers")
    ax.set_title(f"{len(probabilities)} customers scored")
    ax.legend(loc="upper right")
    return fig


def feature_drivers(importance: dict[str, float], top: int = 12) -> Figure:
    """A bar per feature, largest first, of the served model's importance (as ``GET /model`` reports it)."""
    ranked = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top]
    names, values = [k for k, _ in ranked][::-1], [v for _, v in ranked][::-1]
    fig = Figure(figsize=(5.5, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.barh(names, values, color="#55a868")
    ax.set_xlabel("importance (as the lab server reports it)")
    ax.set_title("What drives the model's predictions")
    return fig

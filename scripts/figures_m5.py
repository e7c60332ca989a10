"""Draw the figures of Module 5's chapters (why models decay; drift statistics) into book/m5/figures/.

Everything comes from the course's seeded simulator and NumPy/SciPy, so the figures are the same on
every run. Usage: python scripts/figures_m5.py [--out book/m5/figures] [--repeats 200]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from opslab.data import TARGET, make_customers, production_day
from opslab.env import go_offline

REPO = Path(__file__).resolve().parents[1]
EPSILON = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, n_bins: int = 10) -> float:
    """PSI on the reference's deciles (open outer bins), empty bins given EPSILON."""
    inner = np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1])
    edges = np.concatenate([[-np.inf], np.unique(inner), [np.inf]])
    r = np.histogram(reference, edges)[0] / len(reference)
    c = np.histogram(current, edges)[0] / len(current)
    r, c = np.where(r == 0, EPSILON, r), np.where(c == 0, EPSILON, c)
    return float(np.sum((c - r) * np.log(c / r)))


def _figure(size):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size, layout="constrained")
    plt.close(fig)
    return fig


def what_they_measure(out: Path) -> Path:
    """Reference vs sudden-shift monthly charges: decile bins for PSI, the CDF gap for KS."""
    reference = make_customers(2000, seed=0)["monthly_charges"].to_numpy()
    current = production_day(15, "sudden", n=1000, seed=0)["monthly_charges"].to_numpy()
    fig = _figure((11, 3.6))
    left, right = fig.subplots(1, 2)
    inner = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])
    edges = np.concatenate([[reference.min()], inner, [max(reference.max(), current.max())]])
    r = np.histogram(reference, edges)[0] / len(reference)
    c = np.histogram(current, np.concatenate([[-np.inf], inner, [np.inf]]))[0] / len(current)
    x = np.arange(10)
    left.bar(x - 0.2, r, width=0.4, label="reference")
    left.bar(x + 0.2, c, width=0.4, label="current (sudden, day 15)")
    left.set(title=f"PSI: shares in the reference's deciles (PSI = {psi(reference, current):.2f})",
             xlabel="decile bin of the reference", ylabel="share of rows", xticks=x)
    left.legend(fontsize="small")
    grid = np.sort(np.concatenate([reference, current]))
    cdf_r = np.searchsorted(np.sort(reference), grid, side="right") / len(reference)
    cdf_c = np.searchsorted(np.sort(current), grid, side="right") / len(current)
    k = int(np.argmax(np.abs(cdf_r - cdf_c)))
    right.step(grid, cdf_r, where="post", label="reference")
    right.step(grid, cdf_c, where="post", label="current")
    gap = abs(cdf_r[k] - cdf_c[k])
    right.vlines(grid[k], cdf_c[k], cdf_r[k], color="red", linewidth=2, label=f"KS statistic D = {gap:.2f}")
    right.set(title="KS: the largest gap between the two empirical CDFs", xlabel="monthly charges",
              ylabel="share of rows at or below")
    right.legend(fontsize="small")
    path = out / "drift_what_they_measure.png"
    fig.savefig(path, dpi=110)
    return path


def psi_noise(out: Path, repeats: int) -> Path:
    """PSI between two samples of the SAME distribution, by sample size: noise that looks like drift."""
    rng = np.random.default_rng(0)
    pool = make_customers(50_000, seed=1)["monthly_charges"].to_numpy()
    sizes = [50, 100, 200, 500, 1000, 2000, 5000, 10000]
    med, p95 = [], []
    for n in sizes:
        values = [psi(rng.choice(pool, n), rng.choice(pool, n)) for _ in range(repeats)]
        med.append(np.median(values))
        p95.append(np.quantile(values, 0.95))
    fig = _figure((6.5, 3.8))
    ax = fig.subplots()
    ax.plot(sizes, med, marker="o", label="median")
    ax.plot(sizes, p95, marker="o", label="95th percentile")
    ax.axhline(0.1, ls="--", color="orange", label="0.1: 'moderate shift'")
    ax.axhline(0.25, ls="--", color="red", label="0.25: 'major shift'")
    ax.set(xscale="log", yscale="log", xlabel="rows in each sample", ylabel="PSI (10 decile bins)",
           title="PSI between two samples of the same distribution")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    path = out / "drift_psi_noise.png"
    fig.savefig(path, dpi=110)
    return path


def ks_large_n(out: Path, repeats: int) -> Path:
    """A tiny, harmless shift (0.05 standard deviations): the KS p-value falls with n, the distance does not."""
    from scipy import stats

    rng = np.random.default_rng(0)
    sizes = [100, 300, 1000, 3000, 10_000, 30_000, 100_000]
    pvalues, distances = [], []
    for n in sizes:
        runs = [(rng.normal(0, 1, n), rng.normal(0.05, 1, n)) for _ in range(max(repeats // 4, 20))]
        pvalues.append(np.median([stats.ks_2samp(a, b).pvalue for a, b in runs]))
        distances.append(np.median([stats.wasserstein_distance(a, b) / np.std(a) for a, b in runs]))
    fig = _figure((11, 3.6))
    left, right = fig.subplots(1, 2)
    left.plot(sizes, pvalues, marker="o")
    left.axhline(0.05, ls="--", color="red", label="0.05: 'drift detected' below")
    left.set(xscale="log", yscale="log", xlabel="rows in each sample", ylabel="median KS p-value",
             title="KS p-value for a shift of 0.05 standard deviations")
    left.legend(fontsize="small")
    right.plot(sizes, distances, marker="o", color="green")
    right.axhline(0.1, ls="--", color="red", label="0.1: Evidently's default threshold")
    right.set(xscale="log", xlabel="rows in each sample", ylabel="median normed Wasserstein distance",
              title="The size of the shift does not change with n", ylim=(0, 0.2))
    right.legend(fontsize="small")
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
    path = out / "drift_ks_large_n.png"
    fig.savefig(path, dpi=110)
    return path


def multiple_testing(out: Path) -> Path:
    """The chance of at least one false alarm among k independent tests at alpha = 0.05."""
    k = np.arange(1, 101)
    fig = _figure((6.5, 3.8))
    ax = fig.subplots()
    ax.plot(k, 1 - 0.95**k, label="each test at 0.05")
    ax.plot(k, 1 - (1 - 0.05 / k) ** k, label="Bonferroni: each at 0.05 / k")
    for columns in (12, 50):
        ax.annotate(f"{columns} columns: {1 - 0.95 ** columns:.0%}", (columns, 1 - 0.95**columns),
                    textcoords="offset points", xytext=(8, -14), fontsize="small")
        ax.plot([columns], [1 - 0.95**columns], "ko")
    ax.set(xlabel="columns tested (each with no drift at all)", ylabel="P(at least one alarm)",
           title="Multiple testing: one day, k columns, no drift", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="center right")
    path = out / "drift_multiple_testing.png"
    fig.savefig(path, dpi=110)
    return path


def layers(out: Path) -> Path:
    """What each monitoring layer sees, day by day, for three scenarios (the course's default model)."""
    from sklearn.metrics import roc_auc_score

    from opslab.train import build_pipeline, split

    X_train, _, y_train, _ = split()
    model = build_pipeline().fit(X_train, y_train)
    reference = X_train["monthly_charges"].to_numpy()
    days = np.arange(30)
    fig = _figure((12, 3.4))
    axes = fig.subplots(1, 3)
    for scenario in ("gradual", "sudden", "concept"):
        frames = [production_day(int(d), scenario, n=1000, seed=0) for d in days]
        probabilities = [model.predict_proba(f[X_train.columns].astype(X_train.dtypes.to_dict()))[:, 1] for f in frames]
        axes[0].plot(days, [psi(reference, f["monthly_charges"].to_numpy()) for f in frames], label=scenario)
        axes[1].plot(days, [p.mean() for p in probabilities], label=scenario)
        axes[2].plot(days, [roc_auc_score(f[TARGET], p) for f, p in zip(frames, probabilities)], label=scenario)
    titles = [("inputs: PSI of monthly charges", "PSI"), ("outputs: mean predicted P(churn)", "probability"),
              ("performance: ROC AUC (needs labels)", "ROC AUC")]
    for ax, (title, ylabel) in zip(axes, titles):
        ax.axvline(10, color="red", alpha=0.3)
        ax.set(title=title, xlabel="day (onset of sudden and concept: day 10)", ylabel=ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    path = out / "decay_layers.png"
    fig.savefig(path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "book" / "m5" / "figures")
    parser.add_argument("--repeats", type=int, default=200, help="simulated pairs of samples per point")
    args = parser.parse_args(argv)
    go_offline()
    import matplotlib

    matplotlib.use("Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (what_they_measure(args.out), psi_noise(args.out, args.repeats), ks_large_n(args.out, args.repeats),
                 multiple_testing(args.out), layers(args.out)):
        print("wrote", path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Feedback AUC by day before and after retraining, from a real run (book/m5/images/feedback-loop.png).

A lab server on the course champion receives ten days of ``concept`` traffic (labels two days late,
for half the predictions); a challenger is retrained on the last three labelled days but one, loaded with
``POST /admin/reload``, and six more days of the changed world follow. Each point is the AUC of the
probabilities the server actually served, on the labels it received for that day.

    PYTHONPATH=src python scripts/figure_feedback_loop.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N_PER_DAY, DAYS, ONSET, LAG, COVERAGE, AFTER = 300, 10, 1, 2, 0.5, 6


def labelled_log(db: Path, day_of: dict[str, int]):
    import pandas as pd

    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT prediction_id, inputs, probability, feedback FROM predictions "
                            "WHERE feedback IS NOT NULL ORDER BY rowid").fetchall()
    frame = pd.DataFrame(rows, columns=["prediction_id", "inputs", "probability", "churned"])
    frame["day"] = frame.prediction_id.map(day_of)
    return pd.concat([frame.drop(columns="inputs"), pd.DataFrame(frame.inputs.map(json.loads).tolist())], axis=1)


def run(folder: Path):
    import httpx
    import mlflow
    from sklearn.metrics import roc_auc_score

    from opslab.data import FEATURES, TARGET
    from opslab.env import go_offline
    from opslab.serve.process import LabServer
    from opslab.traffic.replay import replay
    from opslab.train import build_pipeline, train_and_register

    go_offline()
    train_and_register(quiet=True)

    def auc(day):
        return roc_auc_score(day[TARGET], day.probability)

    with LabServer(data_dir=folder / "serve", admin_token="figure") as server:
        before = replay(server.url, "concept", days=DAYS, n_per_day=N_PER_DAY, seed=0, onset=ONSET,
                        label_lag_days=LAG, label_coverage=COVERAGE, progress=False)
        day_of = {p: d for d, ids in before.prediction_ids.items() for p in ids if p}
        log = labelled_log(folder / "serve" / "predictions.db", day_of)
        recent = sorted(log.day.unique())[-4:-1]  # the newest labelled day stays out, as a holdout would
        train = log[log.day.isin(recent)]
        model = build_pipeline().fit(train[FEATURES], train[TARGET])
        mlflow.sklearn.save_model(model, folder / "challenger", pyfunc_predict_fn="predict_proba",
                                  input_example=train[FEATURES].head(3))
        httpx.post(f"{server.url}/admin/reload", json={"model_uri": str(folder / "challenger")},
                   headers={"Authorization": "Bearer figure"}, timeout=120).raise_for_status()
        after = replay(server.url, "concept", days=AFTER, n_per_day=N_PER_DAY, seed=1, onset=-10,
                       label_lag_days=LAG, label_coverage=COVERAGE, progress=False)
        day_of = {p: DAYS + d for d, ids in after.prediction_ids.items() for p in ids if p}
        log2 = labelled_log(folder / "serve" / "predictions.db", day_of)
        log2 = log2[log2.day.notna()]
    daily = log.groupby("day").apply(auc, include_groups=False)
    daily2 = log2.groupby("day").apply(auc, include_groups=False)
    return daily, daily2, recent


def draw(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with tempfile.TemporaryDirectory() as tmp:
        daily, daily2, recent = run(Path(tmp))
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    ax.plot(daily.index, daily.values, marker="o", label="served by the original champion")
    ax.plot(daily2.index, daily2.values, marker="o", color="tab:green", label="served by the retrained model")
    ax.axhline(0.7, color="tab:red", linestyle="--", linewidth=1, label="alert threshold (AUC 0.7)")
    ax.axvline(ONSET - 0.5, color="grey", linestyle=":", linewidth=1)
    ax.text(ONSET - 0.4, 0.9, "concept starts to change", fontsize=8, color="grey")
    ax.axvspan(min(recent) - 0.5, max(recent) + 0.5, color="tab:green", alpha=0.1, label="retraining data")
    ax.axvline(DAYS - 0.5, color="black", linewidth=1)
    ax.text(DAYS - 0.4, 0.55, "promote + /admin/reload", fontsize=8)
    ax.set(xlabel="day of the prediction", ylabel="AUC on the labels received", ylim=(0.5, 0.95),
           title="Feedback AUC per day: decay, retraining, recovery (a real run)")
    ax.legend(fontsize="small", loc="lower left")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")
    print("AUC per day before:", daily.round(3).to_dict())
    print("AUC per day after: ", daily2.round(3).to_dict())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "book" / "m5" / "images" / "feedback-loop.png")
    draw(parser.parse_args().out)

"""Benchmark: how long from the onset of an incident to the alert at the webhook, through the real chain.

Starts the lab server once, then for each repeat a fresh monitoring stack (Prometheus with the
course's rules on a clock compressed ``--speedup`` times, Alertmanager, the webhook receiver), sends
clean traffic, starts the incident, and times when the alert is pending in Prometheus, firing in
Prometheus, and received by the webhook; then ends the incident and times the resolved notice.

    PYTHONPATH=src python scripts/bench_alerting.py --repeats 5 --figure book/m5/images/alert-latency.png \\
        --panels book/m5/images/incident-panels.png

Incidents: ``bad-input`` (half the /predict requests invalid: OpslabHighRejectRatio) and ``drift``
(the customers shift suddenly: OpslabFeatureDriftMajor; needs a lab server that exports
opslab_feature_psi). A benchmark, not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from opslab.data import FEATURES, make_traffic
from opslab.env import go_offline
from opslab.monitoring import MonitoringStack
from opslab.serve.process import LabServer
from opslab.train import train_and_register

ALERTS = {"bad-input": "OpslabHighRejectRatio", "drift": "OpslabFeatureDriftMajor"}


class Traffic(threading.Thread):
    """Five customers per request, as fast as the server answers (20 ms pauses); ``bad_share`` invalid."""

    def __init__(self, url: str, records: list[dict]):
        super().__init__(daemon=True)
        self.url, self.records, self.bad_share = url, records, 0.0
        self.stopping = threading.Event()
        self.random = random.Random(0)

    def run(self):
        with httpx.Client(base_url=self.url, timeout=30) as client:
            i = 0
            while not self.stopping.is_set():
                if self.random.random() < self.bad_share:
                    client.post("/predict", json={**self.records[i], "age": "old"})
                else:
                    client.post("/predict", json=self.records[i:i + 5])
                i = (i + 5) % (len(self.records) - 5)
                time.sleep(0.02)


def records(frame) -> list[dict]:
    return json.loads(frame[FEATURES].to_json(orient="records"))


def draw_panels(prometheus, alert: str, start: float, onset: float, end: float, out: Path) -> None:
    """The run as dashboard panels from ``query_range``: traffic, refusals and the alert's state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    queries = [("requests/s to /predict", 'opslab:requests:rate5m{endpoint="/predict"}', None),
               ("share refused (4xx)", 'opslab:request_rejections:ratio_rate5m{endpoint="/predict"}', 0.2),
               (f"{alert}", f'ALERTS{{alertname="{alert}"}}', None)]
    fig, axes = plt.subplots(len(queries), 1, figsize=(7, 5.5), sharex=True, layout="constrained")
    for ax, (title, promql, threshold) in zip(axes, queries):
        frame = prometheus.query_range(promql, start, time.time(), step=0.5)
        groups = frame.groupby("alertstate") if "alertstate" in frame.columns else [("", frame)]
        for label, series in groups:
            ax.plot(series["time"], series["value"], label=label or None, drawstyle="steps-post")
        if threshold is not None:
            ax.axhline(threshold, color="red", linestyle="--", linewidth=1)
        for moment, text in [(onset, "onset"), (end, "end")]:
            ax.axvline(pd.to_datetime(moment, unit="s", utc=True), color="grey", linestyle=":")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if promql.startswith("ALERTS"):
            ax.set(ylim=(-0.1, 1.3), yticks=[0, 1], yticklabels=["", "active"])
            if len(frame):
                ax.legend(fontsize="small", loc="upper left")
    axes[-1].set_xlabel("time (UTC); dotted lines: incident onset and end")
    fig.savefig(out, dpi=120)
    plt.close(fig)


def one_run(lab: LabServer, folder: Path, incident: str, speedup: float, calm: float,
            panels: Path | None = None) -> dict:
    alert = ALERTS[incident]
    traffic_frame = make_traffic(days=12, scenario="sudden", n_per_day=500, seed=0, onset=10)
    traffic = Traffic(lab.url, records(traffic_frame[traffic_frame.day == 0]))
    with MonitoringStack(folder, [lab.url], speedup=speedup) as stack:
        stack.prometheus.wait_for('up{job="opslab"} == 1', timeout=60)
        traffic.start()
        started = time.time()
        time.sleep(calm)
        if stack.webhook.received():
            raise SystemExit(f"an alert before the incident: {stack.webhook.alerts()}")
        onset, onset_wall = time.monotonic(), time.time()
        if incident == "bad-input":
            traffic.bad_share = 0.5
        else:
            traffic.records = records(traffic_frame[traffic_frame.day == 11])
        times = {}
        while "webhook" not in times and time.monotonic() - onset < 300:
            states = {a["state"] for a in stack.prometheus.alerts() if a["labels"]["alertname"] == alert}
            now = time.monotonic() - onset
            if states and "pending" not in times:
                times["pending"] = now
            if "firing" in states and "firing" not in times:
                times["firing"] = now
            if any(a["alertname"] == alert for a in stack.webhook.alerts()):
                times["webhook"] = now
            time.sleep(0.1)
        traffic.bad_share, end, end_wall = 0.0, time.monotonic(), time.time()
        traffic.records = records(traffic_frame[traffic_frame.day == 0])
        stack.webhook.wait_for(lambda rows: any(r["alertname"] == alert and r["status"] == "resolved" for r in rows),
                               timeout=300)
        times["resolved"] = time.monotonic() - end
        if panels:
            time.sleep(3)
            draw_panels(stack.prometheus, alert, started, onset_wall, end_wall, panels)
        traffic.stopping.set()
        traffic.join(timeout=30)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incident", choices=sorted(ALERTS), default="bad-input")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--speedup", type=float, default=60, help="divide every rule window and for: by this")
    parser.add_argument("--calm", type=float, default=10, help="seconds of clean traffic before the incident")
    parser.add_argument("--figure", type=Path, help="save a figure of the stages per run (PNG)")
    parser.add_argument("--panels", type=Path, help="save the last run as dashboard panels (PNG)")
    args = parser.parse_args(argv)
    go_offline()
    train_and_register(quiet=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-alerting-") as tmp, LabServer(data_dir=Path(tmp) / "serve") as lab:
        if args.incident == "drift" and "opslab_feature_psi" not in httpx.get(f"{lab.url}/metrics").text:
            # PSI appears after the drift window fills; send a first window before deciding
            httpx.post(f"{lab.url}/predict", json=records(make_traffic(days=1, n_per_day=200, seed=1)), timeout=60)
            if "opslab_feature_psi" not in httpx.get(f"{lab.url}/metrics").text:
                raise SystemExit("this lab server exports no opslab_feature_psi: use --incident bad-input")
        for i in range(args.repeats):
            last = i == args.repeats - 1
            times = one_run(lab, Path(tmp) / f"run-{i}", args.incident, args.speedup, args.calm,
                            args.panels if last else None)
            runs.append(times)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()), flush=True)
    alert = ALERTS[args.incident]
    print(f"\n{alert}, rules compressed {args.speedup:g}x (5m windows -> {300 / args.speedup:g} s), "
          f"1 s scrapes and evaluations, Alertmanager group_wait 1 s; {args.repeats} runs")
    print(f"{'stage':<32} {'median s':>9} {'min s':>7} {'max s':>7}")
    for stage, label in [("pending", "onset -> pending in Prometheus"), ("firing", "onset -> firing in Prometheus"),
                         ("webhook", "onset -> at the webhook"), ("resolved", "end -> resolved at the webhook")]:
        values = [r[stage] for r in runs if stage in r]
        print(f"{label:<32} {statistics.median(values):>9.1f} {min(values):>7.1f} {max(values):>7.1f}")
    if args.figure:
        from opslab.plots import _new_figure

        fig, ax = _new_figure((6.0, 2.8))
        stages = ["pending", "firing", "webhook", "resolved"]
        for row, stage in enumerate(stages):
            values = [r[stage] for r in runs if stage in r]
            ax.scatter(values, [row] * len(values), alpha=0.7)
            ax.plot([statistics.median(values)] * 2, [row - 0.3, row + 0.3], color="black")
        ax.set(yticks=range(len(stages)), yticklabels=["onset → pending", "onset → firing", "onset → webhook",
                                                      "end → resolved"],
               xlabel="seconds", title=f"{alert}: {args.repeats} runs, clock compressed {args.speedup:g}x")
        ax.grid(alpha=0.3, axis="x")
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure, dpi=120)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()

"""What the lab server's prediction log costs as it grows: a prediction's latency and a /metrics
scrape's time with 10^3, 10^5 and 10^6 predictions already logged.

For each size it fills a fresh log (``PredictionLog.record``, the server's own write path, in chunks
of 50,000 rows: a few transactions, seconds for a million rows) with records of the simulator,
timestamps spread over the past ``--days`` days and a tenth of them labelled (so the feedback window
has work to do), starts ``opslab serve`` on it (``--workers N``, retention at its default bound of
1,000,000 rows, so the largest log is pruned as it grows, as a server left running would be) and
measures, on one connection, one request at a time:

- ``--predictions`` single-record predictions: p50, p90, p99 latency;
- ``--scrapes`` scrapes of ``/metrics`` (drift and feedback gauges on, as always): p50 and max;

every server running at once, measured in interleaved rounds, so that what else runs on the machine
weighs on every size alike.

It prints a table, the ratio of each size's prediction p50 to the smallest size's, and the same as a
markdown table for the book. A benchmark, not a test: figures depend on the machine and its load.

    PYTHONPATH=src python scripts/bench_log_scale.py
    PYTHONPATH=src python scripts/bench_log_scale.py --sizes 1000,100000 --predictions 300 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def fill(path: Path, rows: int, records: list[dict], days: float, chunk: int = 50_000) -> float:
    """Write ``rows`` predictions of ``records`` (cycled) into the log at ``path``; seconds taken."""
    import sqlite3

    from opslab.serve.prediction_log import PredictionLog

    started = time.perf_counter()
    log = PredictionLog(path)
    now = datetime.now(timezone.utc)
    step = timedelta(days=days) / max(rows, 1)
    rng = np.random.default_rng(0)
    probabilities = rng.random(rows)
    for begin in range(0, rows, chunk):
        batch = []
        for i in range(begin, min(begin + chunk, rows)):
            when = now - step * (rows - i)
            pid = f"{int(when.timestamp() * 1000):012x}{i:020x}"  # time-ordered, like the server's ids
            p = float(probabilities[i])
            batch.append((pid, when.isoformat(timespec="microseconds"), "churn-classifier", "1",
                          records[i % len(records)], int(p >= 0.5), p))
        log.record(batch)
    log.close()
    with sqlite3.connect(path, isolation_level=None) as db:  # a tenth labelled, spread over the log
        db.execute("UPDATE predictions SET feedback = churned, feedback_timestamp = timestamp WHERE rowid % 10 = 0")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}


def measure(urls: dict[int, str], record: dict, predictions: int, scrapes: int, rounds: int = 10) -> dict:
    """Time predictions and scrapes on every server, in interleaved rounds: whatever else the machine
    does meanwhile weighs on every size alike."""
    latencies = {size: [] for size in urls}
    scrape_times = {size: [] for size in urls}
    with httpx.Client(timeout=60) as http:
        for url in urls.values():
            for _ in range(20):  # warm-up
                http.post(f"{url}/predict", json=record).raise_for_status()
        for round_ in range(rounds):
            for size, url in urls.items():
                for _ in range(predictions // rounds):
                    started = time.perf_counter()
                    http.post(f"{url}/predict", json=record).raise_for_status()
                    latencies[size].append(time.perf_counter() - started)
                for _ in range(-(-scrapes // rounds)):
                    started = time.perf_counter()
                    text = http.get(f"{url}/metrics").text
                    scrape_times[size].append(time.perf_counter() - started)
                    assert "opslab_feedback_auc " in text and "opslab_feature_psi{" in text, "drift gauges on"
    return {size: {"predict": percentiles(latencies[size]), "scrape": percentiles(scrape_times[size])}
            for size in urls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--sizes", default="1000,100000,1000000", help="rows in the log before each run")
    parser.add_argument("--predictions", type=int, default=1000, help="timed predictions per size (default 1000)")
    parser.add_argument("--scrapes", type=int, default=30, help="timed /metrics scrapes per size (default 30)")
    parser.add_argument("--days", type=float, default=30, help="the logged rows span this many days (default 30)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of the server (default 1)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    sys.path.insert(0, str(REPO / "src"))
    from opslab.data import FEATURES, make_customers
    from opslab.env import go_offline
    from opslab.serve.process import LabServer
    from opslab.train import train_and_register

    go_offline()
    train_and_register(quiet=True)  # idempotent
    frame = make_customers(n=1000, seed=1)[FEATURES]
    records = json.loads(frame.to_json(orient="records"))
    work = Path(tempfile.mkdtemp(prefix="opslab-bench-log-"))
    before = os.getloadavg()
    print(f"{args.predictions} predictions and {args.scrapes} scrapes per size, one at a time; "
          f"{args.workers} worker(s); {os.cpu_count()} CPUs, load average {', '.join(f'{v:.2f}' for v in before)}")
    servers, megabytes = {}, {}
    try:
        for size in sizes:
            folder = work / str(size)
            seconds = fill(folder / "predictions.db", size, records, args.days)
            megabytes[size] = (folder / "predictions.db").stat().st_size / 1e6
            print(f"{size:>9,} rows: filled in {seconds:.1f} s ({megabytes[size]:.1f} MB)", flush=True)
            servers[size] = LabServer(data_dir=folder, workers=args.workers, log_file=work / f"{size}.log",
                                      timeout=300).start()
        results = measure({size: lab.url for size, lab in servers.items()}, records[0], args.predictions,
                          args.scrapes)
    finally:
        for lab in servers.values():
            lab.stop()
        shutil.rmtree(work, ignore_errors=True)
    for size in results:
        results[size]["megabytes"] = megabytes[size]
    after = os.getloadavg()
    base = results[sizes[0]]["predict"]["p50_ms"]
    print()
    print(f"{'rows':>10} {'MB':>6} {'predict p50':>11} {'p90':>7} {'p99':>7} {'vs first':>8} "
          f"{'scrape p50':>10} {'max':>7}")
    for size, r in results.items():
        p, s = r["predict"], r["scrape"]
        print(f"{size:>10,} {r['megabytes']:>6.1f} {p['p50_ms']:>11.2f} {p['p90_ms']:>7.2f} {p['p99_ms']:>7.2f} "
              f"{p['p50_ms'] / base:>7.2f}x {s['p50_ms']:>10.1f} {s['max_ms']:>7.1f}")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in after)}")
    print()
    print(f"<!-- scripts/bench_log_scale.py on {time.strftime('%Y-%m-%d', time.gmtime())}: {args.workers} worker(s), "
          f"load average {before[0]:.2f} before, {after[0]:.2f} after -->")
    print("| rows in the log | database (MB) | prediction p50 (ms) | p90 (ms) | p99 (ms) | p50 against the first "
          "| /metrics scrape p50 (ms) | slowest scrape (ms) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, r in results.items():
        p, s = r["predict"], r["scrape"]
        print(f"| {size:,} | {r['megabytes']:.1f} | {p['p50_ms']:.2f} | {p['p90_ms']:.2f} | {p['p99_ms']:.2f} | "
              f"{p['p50_ms'] / base:.2f}x | {s['p50_ms']:.1f} | {s['max_ms']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

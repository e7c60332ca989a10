"""Benchmark the lab server against MLflow's scoring server on the same registered model.

Starts `opslab serve` (prediction log and metrics on, as always) and `mlflow models serve
--env-manager local`, one worker each, on loopback; drives each in turn with the same load
(single-record and 100-record POSTs, N connections, fixed duration) using wrk if installed, else
a small asyncio client; prints requests/s, p50 and p99 for both and the lab server's ratios.

    PYTHONPATH=src python scripts/bench_serving.py --duration 15 --connections 16

With ``--drift-overhead`` it benchmarks the lab server against itself instead: drift metrics on
(as always) and off (``OPSLAB_DRIFT_METRICS=0``), with /metrics scraped every ``--scrape-interval``
seconds during the load (far more often than Prometheus would), and prints the throughput cost.

A benchmark, not a test: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\": %%d, \\"seconds\\": %%f, \\"p50_ms\\": %%f, "
    .. "\\"p99_ms\\": %%f, \\"failed\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up within {timeout} s")


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    # its own process group, so stopping it also stops any worker processes it forks
    return subprocess.Popen(
        cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_wrk(url: str, body: str, seconds: float, connections: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % body)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(script.name)
    if out.returncode != 0:
        raise SystemExit(f"wrk failed: {out.stderr or out.stdout}")
    line = next(line for line in out.stdout.splitlines() if line.startswith("BENCH "))
    result = json.loads(line[6:])
    result["rps"] = result["requests"] / result["seconds"]
    return result


async def _python_load(
    host: str, port: int, path: str, body: bytes, seconds: float, connections: int
) -> dict:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds

    async def connection():
        nonlocal failed
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            status = (await reader.readline()).split(b" ")[1]
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            failed += status != b"200"
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q):
        return 1000 * latencies[min(int(q * len(latencies)), len(latencies) - 1)]

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "failed": failed,
    }


def run_python(url: str, body: str, seconds: float, connections: int) -> dict:
    parsed = httpx.URL(url)
    return asyncio.run(
        _python_load(parsed.host, parsed.port, parsed.path, body.encode(), seconds, connections)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds of load per run (default 15)")
    parser.add_argument(
        "--warmup", type=float, default=3, help="seconds of unmeasured load first (default 3)"
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--batch", type=int, default=100, help="records in the batch run (default 100)")
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk if installed (auto), or the built-in asyncio client",
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--drift-overhead",
        action="store_true",
        help="compare the lab server with drift metrics on and off instead of against MLflow",
    )
    parser.add_argument(
        "--scrape-interval", type=float, default=1.0, help="seconds between scrapes of /metrics (default 1)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating on/off rounds (default 2)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO / "src"))
    from opslab.background import free_port
    from opslab.data import FEATURES, make_customers
    from opslab.env import go_offline
    from opslab.registry import champion_uri, tracking_uri
    from opslab.serve.process import LabServer
    from opslab.train import train_and_register

    go_offline()
    version = train_and_register(quiet=True)  # idempotent: trains only if there is no champion yet
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    frame = make_customers(n=args.batch, seed=1)[FEATURES]
    records = json.loads(frame.to_json(orient="records"))
    bodies = {
        "lab": {1: json.dumps(records[0]), args.batch: json.dumps(records)},
        "mlflow": {
            1: json.dumps({"dataframe_records": records[:1]}),
            args.batch: json.dumps({"dataframe_records": records}),
        },
    }

    if args.drift_overhead:
        return drift_overhead(args, client, bodies["lab"])
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": tracking_uri(),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    work = Path(tempfile.mkdtemp(prefix="opslab-bench-"))
    mlflow_port = free_port()
    lab = LabServer(
        data_dir=work / "lab",
        workers=1,
        extra_args=["--max-batch", str(max(args.batch, 1000))],
        log_file=work / "lab.log",
    )
    mlflow_server = start(
        [
            str(VENV_BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            champion_uri(),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(mlflow_port),
            "-w",
            "1",
        ],
        env,
        work / "mlflow.log",
    )
    urls = {"lab": f"{lab.url}/predict", "mlflow": f"http://127.0.0.1:{mlflow_port}/invocations"}
    results: dict = {}
    try:
        lab.start()
        wait_until_up(f"http://127.0.0.1:{mlflow_port}/ping", mlflow_server)
        headers = {"content-type": "application/json"}
        lab_p = httpx.post(urls["lab"], content=bodies["lab"][1], headers=headers).json()["predictions"][0]
        ml_p = httpx.post(urls["mlflow"], content=bodies["mlflow"][1], headers=headers).json()["predictions"][
            0
        ]
        print(
            f"model {champion_uri()} (version {version.version}); one record: "
            f"lab P={lab_p['probability']:.6f}, mlflow P={ml_p[1]:.6f}"
        )
        print(
            f"load: {client}, {args.connections} connections, {args.duration:g} s per run after "
            f"{args.warmup:g} s warm-up; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
        )
        for size in (1, args.batch):
            for name in ("lab", "mlflow"):

                def drive(seconds):
                    if client == "wrk":
                        return run_wrk(urls[name], bodies[name][size], seconds, args.connections, threads=2)
                    return run_python(urls[name], bodies[name][size], seconds, args.connections)

                if args.warmup > 0:
                    drive(args.warmup)
                results[f"{name}-{size}"] = drive(args.duration)
    finally:
        lab.stop()
        stop(mlflow_server)
    print()
    print(
        f"{'server':<8} {'records':>7} {'req/s':>9} {'records/s':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'failed':>7}"
    )
    for key, r in results.items():
        name, size = key.split("-")
        print(
            f"{name:<8} {size:>7} {r['rps']:>9.0f} {r['rps'] * int(size):>10.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['failed']:>7}"
        )
    print()
    for size in (1, args.batch):
        lab, ml = results[f"lab-{size}"], results[f"mlflow-{size}"]
        print(
            f"{size:>3} record(s): lab/mlflow throughput {lab['rps'] / ml['rps']:.1f}x; lab p99 "
            f"{lab['p99_ms']:.2f} ms vs mlflow p50 {ml['p50_ms']:.2f} ms "
            f"({'below' if lab['p99_ms'] < ml['p50_ms'] else 'NOT below'})"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


class Scraper(threading.Thread):
    """Scrape ``url`` every ``interval`` seconds until stopped; keeps the scrape durations."""

    def __init__(self, url: str, interval: float):
        super().__init__(daemon=True)
        self.url, self.interval, self.stopped, self.seconds = url, interval, threading.Event(), []

    def run(self):
        with httpx.Client(timeout=30) as http:
            while not self.stopped.wait(self.interval):
                started = time.perf_counter()
                http.get(self.url).raise_for_status()
                self.seconds.append(time.perf_counter() - started)


def drift_overhead(args, client: str, bodies: dict) -> int:
    """The lab server with drift metrics on and off, in alternating rounds, scraped during the load."""
    from opslab.serve.process import LabServer

    work = Path(tempfile.mkdtemp(prefix="opslab-bench-drift-"))
    results: dict[str, list] = {}
    print(
        f"load: {client}, {args.connections} connections, {args.duration:g} s per run after {args.warmup:g} s "
        f"warm-up, /metrics every {args.scrape_interval:g} s; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    try:
        for round_ in range(args.rounds):
            for mode in ("on", "off"):
                os.environ["OPSLAB_DRIFT_METRICS"] = "1" if mode == "on" else "0"
                lab = LabServer(
                    data_dir=work / f"{mode}-{round_}",
                    extra_args=["--max-batch", str(max(args.batch, 1000))],
                    log_file=work / f"{mode}-{round_}.log",
                    timeout=300,
                )
                with lab:
                    for size in (1, args.batch):

                        def drive(seconds):
                            url = f"{lab.url}/predict"
                            if client == "wrk":
                                return run_wrk(url, bodies[size], seconds, args.connections, threads=2)
                            return run_python(url, bodies[size], seconds, args.connections)

                        if args.warmup > 0:
                            drive(args.warmup)
                        scraper = Scraper(f"{lab.url}/metrics", args.scrape_interval)
                        scraper.start()
                        result = drive(args.duration)
                        scraper.stopped.set()
                        scraper.join()
                        result["scrape_ms"] = 1000 * sum(scraper.seconds) / max(len(scraper.seconds), 1)
                        results.setdefault(f"{mode}-{size}", []).append(result)
                        text = httpx.get(f"{lab.url}/metrics").text
                        assert ("opslab_feature_psi{" in text) == (mode == "on"), "drift metrics switch"
    finally:
        os.environ.pop("OPSLAB_DRIFT_METRICS", None)
    print()
    print(f"{'drift':<6} {'records':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'scrape ms':>9}  (mean of rounds)")
    summary = {}
    for key, runs in results.items():
        mode, size = key.split("-")
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in ("rps", "p50_ms", "p99_ms", "scrape_ms")}
        summary[key] = mean
        print(
            f"{mode:<6} {size:>7} {mean['rps']:>9.0f} {mean['p50_ms']:>8.2f} {mean['p99_ms']:>8.2f} "
            f"{mean['scrape_ms']:>9.1f}"
        )
    print()
    for size in (1, args.batch):
        on, off = summary[f"on-{size}"]["rps"], summary[f"off-{size}"]["rps"]
        print(f"{size:>3} record(s): drift metrics cost {100 * (off - on) / off:+.1f}% of throughput")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

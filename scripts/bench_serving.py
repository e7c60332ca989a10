"""Benchmark serving frameworks on the same registered model: the lab server, MLflow, BentoML, MLServer.

Serves the course registry's champion (``models:/churn-classifier@champion``) with

- ``lab``: ``opslab serve`` (prediction log and metrics on, as always);
- ``mlflow``: ``mlflow models serve --env-manager local`` (MLflow's scoring server);
- ``bentoml``: a BentoML service (``bentoml serve``) with adaptive batching, when BentoML is installed;
- ``mlserver``: MLServer with its MLflow runtime, answering KServe's V2 inference protocol, when
  MLServer is installed;
- ``floor``: the HTTP floor, a bare FastAPI app under uvicorn that parses the same JSON body and
  answers a constant (``scripts/serving_floor.py``): no model server can be faster with one worker;

one worker each (``--workers N``: N for the lab server, the floor, MLflow and BentoML), on loopback,
every one started and stopped through ``opslab.background``. Each is driven in turn with the same
load (single-record and ``--batch``-record POSTs, N connections, for a fixed time, or a fixed number
of requests with ``--requests``) by wrk if installed, else a small asyncio client. It prints
requests/s, records/s, p50, p90 and p99 latency, each server's throughput as a share of the floor's
and as a ratio to every other server's, and the machine's load average before and after (figures
from a busy machine are not comparable with an idle one's); then the same as markdown tables.

BentoML and MLServer do not install next to the course's pins (see requirements-serving.in): give each
its own venv and pass its interpreter, e.g. ``--bentoml-python /tmp/bento/bin/python``. A server that is
not installed is skipped with a line that says so.

    PYTHONPATH=src python scripts/bench_serving.py --duration 15 --connections 16
    PYTHONPATH=src python scripts/bench_serving.py --servers lab,mlflow --requests 200

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
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SERVERS = ("lab", "mlflow", "bentoml", "mlserver", "floor")
LABELS = {"lab": "lab server", "mlflow": "mlflow models serve", "bentoml": "BentoML", "mlserver": "MLServer",
          "floor": "bare FastAPI floor"}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\": %%d, \\"seconds\\": %%f, \\"p50_ms\\": %%f, \\"p90_ms\\": %%f, "
    .. "\\"p99_ms\\": %%f, \\"failed\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, e.status + e.connect + e.read + e.write + e.timeout))
end
"""

# The BentoML service: the registered model's files, loaded with MLflow's sklearn flavour; adaptive
# batching merges concurrent requests' records into one predict_proba call.
BENTO_SERVICE = '''
import json
import os

import bentoml
import mlflow.sklearn
import pandas as pd

MODEL_DIR = os.environ["OPSLAB_BENCH_MODEL_DIR"]
FEATURES = json.loads(os.environ["OPSLAB_BENCH_FEATURES"])


@bentoml.service(workers=int(os.environ.get("OPSLAB_BENCH_WORKERS", "1")))
class Churn:
    def __init__(self) -> None:
        self.model = mlflow.sklearn.load_model(MODEL_DIR)

    @bentoml.api(batchable=True, max_batch_size=1000, max_latency_ms=100)
    def predict(self, records: list[dict]) -> list[float]:
        frame = pd.DataFrame.from_records(records, columns=FEATURES)
        return self.model.predict_proba(frame)[:, 1].tolist()
'''


@dataclass
class Target:
    """One server under test: how to start it, where it scores, how a request and an answer look."""

    name: str
    server: object  # an opslab.background.BackgroundServer
    url: str
    body: Callable[[list[dict]], str]
    probability: Callable[[object], float] | None  # P(churn) of the first record in a parsed answer
    notes: list[str] = field(default_factory=list)


def importable(module: str, python: str) -> bool:
    """Whether ``python`` (this interpreter or another venv's) can import ``module``."""
    if not Path(python).exists():
        return False
    done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=120)
    return done.returncode == 0


def lab_target(work: Path, batch: int, workers: int = 1) -> Target:
    from opslab.serve.process import LabServer

    lab = LabServer(data_dir=work / "lab", workers=workers, extra_args=["--max-batch", str(max(batch, 1000))],
                    log_file=work / "lab.log")
    return Target("lab", lab, f"{lab.url}/predict", lambda r: json.dumps(r[0] if len(r) == 1 else r),
                  lambda answer: answer["predictions"][0]["probability"])


def floor_target(work: Path, env: dict, workers: int = 1) -> Target:
    from opslab.background import BackgroundServer, free_port

    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "serving_floor:app", "--app-dir", str(REPO / "scripts"),
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
               "--no-access-log"]
    server = BackgroundServer(command, f"http://127.0.0.1:{port}/health", timeout=60, env=env,
                              log_path=work / "floor.log", name="bare FastAPI floor")
    return Target("floor", server, f"http://127.0.0.1:{port}/predict",
                  lambda r: json.dumps(r[0] if len(r) == 1 else r), None)


def mlflow_target(work: Path, env: dict, workers: int = 1) -> Target:
    from opslab.background import BackgroundServer, free_port, venv_bin
    from opslab.registry import champion_uri

    port = free_port()
    command = [venv_bin("mlflow"), "models", "serve", "-m", champion_uri(), "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
    server = BackgroundServer(command, f"http://127.0.0.1:{port}/ping", timeout=180, env=env,
                              log_path=work / "mlflow.log", name="mlflow models serve")
    return Target("mlflow", server, f"http://127.0.0.1:{port}/invocations",
                  lambda r: json.dumps({"dataframe_records": r}), lambda answer: answer["predictions"][0][1])


def bentoml_target(work: Path, env: dict, python: str, model_dir: Path, features: list[str],
                   workers: int = 1) -> Target:
    from opslab.background import BackgroundServer, free_port

    port, folder = free_port(), work / "bentoml"
    folder.mkdir()
    (folder / "service.py").write_text(BENTO_SERVICE)
    env = {**env, "BENTOML_HOME": str(work / "bentoml-home"), "BENTOML_DO_NOT_TRACK": "True",
           "OPSLAB_BENCH_WORKERS": str(workers),
           "OPSLAB_BENCH_MODEL_DIR": str(model_dir), "OPSLAB_BENCH_FEATURES": json.dumps(features)}
    command = [python, "-m", "bentoml", "serve", "service:Churn", "--host", "127.0.0.1", "--port", str(port)]
    server = BackgroundServer(command, f"http://127.0.0.1:{port}/readyz", timeout=180, env=env, cwd=folder,
                              log_path=work / "bentoml.log", name="bentoml serve")
    return Target("bentoml", server, f"http://127.0.0.1:{port}/predict",
                  lambda r: json.dumps({"records": r}), lambda answer: answer[0])


V2_TYPES = {"int64": "INT64", "float64": "FP64", "object": "BYTES", "bool": "BOOL"}


def v2_request(records: list[dict], features: list[str], dtypes: dict[str, str]) -> str:
    """A KServe V2 inference request: one column a tensor, decoded by MLServer into a DataFrame."""
    inputs = [{"name": f, "shape": [len(records)], "datatype": V2_TYPES[dtypes[f]], "data": [r[f] for r in records]}
              for f in features]
    return json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs})


def mlserver_target(work: Path, env: dict, python: str, model_dir: Path, features: list[str],
                    dtypes: dict[str, str]) -> Target:
    from opslab.background import BackgroundServer, free_port

    name, port, folder = "churn-classifier", free_port(), work / "mlserver"
    (folder / name).mkdir(parents=True)
    settings = {"host": "127.0.0.1", "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
                "parallel_workers": 0}  # 1.7.1 + uvloop 0.22 fail in worker processes
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {"name": name, "implementation": "mlserver_mlflow.MLflowRuntime",
                      "parameters": {"uri": str(model_dir)}}
    (folder / name / "model-settings.json").write_text(json.dumps(model_settings))
    executable = str(Path(python).parent / "mlserver")
    base = f"http://127.0.0.1:{port}/v2/models/{name}"
    server = BackgroundServer([executable, "start", str(folder)], f"{base}/ready", timeout=180, env=env,
                              cwd=folder, log_path=work / "mlserver.log", name="mlserver start")
    return Target("mlserver", server, f"{base}/infer", lambda r: v2_request(r, features, dtypes),
                  lambda answer: answer["outputs"][0]["data"][1])



def cpu_seconds(server) -> float:
    """CPU time (user + system) used so far by the server's processes (its process group; Linux),
    a steadier measure than requests/s on a machine that runs other jobs; NaN where /proc is missing."""
    from opslab.background import group_members

    if server.process is None or not Path("/proc").is_dir():
        return float("nan")
    ticks = 0
    for pid in group_members(server.process.pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, body: str, seconds: float, connections: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % body)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
             "-s", script.name, url],
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
    host: str, port: int, path: str, body: bytes, seconds: float | None, connections: int, count: int | None
) -> dict:
    """``connections`` keep-alive connections POST ``body`` for ``seconds``, or until ``count`` requests."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds if count is None else float("inf")
    left = count if count is not None else -1

    async def connection():
        nonlocal failed, left
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline and left != 0:
            left -= 1
            started = time.perf_counter()
            writer.write(request)
            status = (await reader.readline()).split(b" ")[1]
            length, chunked = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                chunked |= line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower()
            if chunked:  # a chunked answer: read chunks until the empty one
                while (size := int((await reader.readline()).strip() or b"0", 16)) > 0:
                    await reader.readexactly(size + 2)
                await reader.readline()
            else:
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

    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "failed": failed}


def run_python(url: str, body: str, seconds: float | None, connections: int, count: int | None = None) -> dict:
    parsed = httpx.URL(url)
    return asyncio.run(_python_load(parsed.host, parsed.port, parsed.path, body.encode(), seconds, connections, count))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help=f"comma-separated servers to run, of {', '.join(SERVERS)} (default: all; "
                             "BentoML and MLServer only when installed)")
    parser.add_argument("--bentoml-python", default=sys.executable,
                        help="a Python that can import bentoml, mlflow and scikit-learn (default: this one)")
    parser.add_argument("--mlserver-python", default=sys.executable,
                        help="a Python whose venv has mlserver and mlserver-mlflow (default: this one)")
    parser.add_argument("--duration", type=float, default=15, help="seconds of load per run (default 15)")
    parser.add_argument("--requests", type=int,
                        help="a fixed number of requests per run instead of --duration (built-in client)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured load first (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--batch", type=int, default=100, help="records in the batch run (default 100)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes of the lab server, the floor, MLflow and BentoML (default 1; "
                             "MLServer keeps one: parallel workers fail in 1.7.1)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk if installed (auto), or the built-in asyncio client")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--drift-overhead", action="store_true",
                        help="compare the lab server with drift metrics on and off instead of the frameworks")
    parser.add_argument("--scrape-interval", type=float, default=1.0,
                        help="seconds between scrapes of /metrics (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating on/off rounds (default 2)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.servers.split(",") if s.strip()]
    if unknown := sorted(set(chosen) - set(SERVERS)):
        parser.error(f"unknown server(s) {', '.join(unknown)}: choose among {', '.join(SERVERS)}")

    sys.path.insert(0, str(REPO / "src"))
    import mlflow

    from opslab.data import FEATURES, make_customers
    from opslab.env import go_offline
    from opslab.registry import champion_uri, tracking_uri, use_course_registry
    from opslab.train import as_features, train_and_register

    go_offline()
    version = train_and_register(quiet=True)  # idempotent: trains only if there is no champion yet
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    if args.requests is not None:
        client = "python"  # wrk runs for a time, not a count
    frame = as_features(make_customers(n=args.batch, seed=1))
    records = json.loads(frame.to_json(orient="records"))
    if args.drift_overhead:
        return drift_overhead(args, client, {1: json.dumps(records[0]), args.batch: json.dumps(records)})

    env = {
        "OMP_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": tracking_uri(),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow serve finds its own tools
        "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    work = Path(tempfile.mkdtemp(prefix="opslab-bench-"))
    optional = {"bentoml": ("bentoml", args.bentoml_python), "mlserver": ("mlserver_mlflow", args.mlserver_python)}
    targets: list[Target] = []
    model_dir = None
    for name in chosen:
        if name in optional:
            module, python = optional[name]
            if not importable(module, python):
                print(f"{name}: skipped, {module} is not installed for {python} (install requirements-serving.in "
                      f"into a separate venv and pass --{name}-python VENV/bin/python)")
                continue
            if model_dir is None:  # the registered model's files, for the servers that take a folder
                use_course_registry()
                model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=champion_uri(),
                                                                     dst_path=str(work / "model")))
            other_env = {**env, "PYTHONPATH": ""}  # another venv: nothing of this one on its path
            if name == "bentoml":
                targets.append(bentoml_target(work, other_env, python, model_dir, FEATURES, args.workers))
            else:
                dtypes = {f: str(frame[f].dtype) for f in FEATURES}
                targets.append(mlserver_target(work, other_env, python, model_dir, FEATURES, dtypes))
        elif name == "lab":
            targets.append(lab_target(work, args.batch, args.workers))
        elif name == "floor":
            targets.append(floor_target(work, env, args.workers))
        else:
            targets.append(mlflow_target(work, env, args.workers))

    load = f"{args.requests} requests" if args.requests is not None else f"{args.duration:g} s"
    print(f"model {champion_uri()} (version {version.version})")
    before = os.getloadavg()
    setup = (f"{client}, {args.connections} connections, {load} per run after {args.warmup:g} s warm-up, "
             f"{args.workers} worker(s) per server; {os.cpu_count()} CPUs")
    print(f"load: {setup}, load average {load_average(before)} (1, 5, 15 min)")
    results: dict = {}
    for target in targets:  # one server at a time: the others are not even running
        with target.server:
            answer = httpx.post(target.url, content=target.body(records[:1]),
                                headers={"content-type": "application/json"}, timeout=60)
            answer.raise_for_status()
            if target.probability is None:
                print(f"{target.name}: up (a constant answer)")
            else:
                print(f"{target.name}: up; first record P(churn) = {target.probability(answer.json()):.6f}")
            for size in (1, args.batch):
                body = target.body(records[:size])

                def drive(seconds, count=None):
                    if client == "wrk":
                        return run_wrk(target.url, body, seconds, args.connections, threads=2)
                    return run_python(target.url, body, seconds, args.connections, count)

                if args.warmup > 0:
                    drive(args.warmup)
                cpu = cpu_seconds(target.server)
                result = results[f"{target.name}-{size}"] = drive(args.duration, args.requests)
                result["cpu_us"] = 1e6 * (cpu_seconds(target.server) - cpu) / max(result["requests"], 1)
    after = os.getloadavg()
    print(f"load average after the runs: {load_average(after)}")
    report(results, args.batch)
    markdown(results, args.batch, f"{setup}; load average {load_average(before)} before, {load_average(after)} after")
    if any(r["failed"] for r in results.values()):  # the servers' logs say why
        print(f"some requests failed (non-2xx answers or socket errors): the servers' logs are kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def load_average(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def shares(results: dict, size: int) -> dict[str, float]:
    """Each server's requests/s at ``size`` records as a share of the floor's (empty without a floor)."""
    floor = results.get(f"floor-{size}")
    if not floor or not floor["rps"]:
        return {}
    return {key.rsplit("-", 1)[0]: r["rps"] / floor["rps"] for key, r in results.items() if key.endswith(f"-{size}")}


def ratios(results: dict, size: int) -> list[tuple[str, dict[str, float]]]:
    """For each server at ``size`` records, its throughput divided by every other server's."""
    names = [k.rsplit("-", 1)[0] for k in results if k.endswith(f"-{size}")]
    rps = {n: results[f"{n}-{size}"]["rps"] for n in names}
    return [(n, {m: rps[n] / rps[m] for m in names if m != n and rps[m]}) for n in names]


def rows(results: dict, batch: int):
    """(server, records per request, its figures, its share of the floor as text), single records first."""
    for size in (1, batch):
        share = shares(results, size)
        for key, r in results.items():
            name, n = key.rsplit("-", 1)
            if int(n) == size:
                yield name, size, r, f"{100 * share[name]:.0f}%" if name in share else "-"


def report(results: dict, batch: int) -> None:
    print()
    print(f"{'server':<9} {'records':>7} {'req/s':>9} {'records/s':>10} {'of floor':>8} {'p50 ms':>8} {'p90 ms':>8} "
          f"{'p99 ms':>8} {'failed':>7} {'CPU us/req':>10}")
    for name, size, r, of_floor in rows(results, batch):
        print(f"{name:<9} {size:>7} {r['rps']:>9.0f} {r['rps'] * size:>10.0f} {of_floor:>8} {r['p50_ms']:>8.2f} "
              f"{r['p90_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['failed']:>7} {r.get('cpu_us', float('nan')):>10.0f}")
    print()
    for size in (1, batch):
        for name, against in ratios(results, size):
            if against:
                listed = ", ".join(f"{m} {x:.2f}x" for m, x in against.items())
                print(f"{size:>3} record(s), {name} throughput against: {listed}")


def markdown(results: dict, batch: int, setting: str) -> None:
    """The results as the markdown tables the book takes, with the setting they were measured in."""
    print()
    print(f"<!-- scripts/bench_serving.py on {time.strftime('%Y-%m-%d', time.gmtime())}: {setting} -->")
    print("| server | records per request | requests/s | records/s | share of the floor | p50 (ms) | p90 (ms) "
          "| p99 (ms) | failed | server CPU per request (µs) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, size, r, of_floor in rows(results, batch):
        print(f"| {LABELS.get(name, name)} | {size} | {r['rps']:,.0f} | {r['rps'] * size:,.0f} | {of_floor} | "
              f"{r['p50_ms']:,.1f} | {r['p90_ms']:,.1f} | {r['p99_ms']:,.1f} | {r['failed']} | "
              f"{r.get('cpu_us', float('nan')):,.0f} |")
    for size in (1, batch):
        pairs = ratios(results, size)
        if len(pairs) < 2:
            continue
        names = [n for n, _ in pairs]
        print()
        print(f"Throughput ratios, {size} record(s) per request (row server / column server):")
        print()
        print("| | " + " | ".join(LABELS.get(n, n) for n in names) + " |")
        print("| --- |" + " ---: |" * len(names))
        for name, against in pairs:
            cells = [f"{against[m]:.2f}x" if m in against else "—" for m in names]
            print(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")


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

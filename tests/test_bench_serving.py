"""scripts/bench_serving.py runs end to end on a tiny load (figures are printed, never asserted), with the
bare FastAPI floor in the same run, skips the optional frameworks it cannot find with a line that says so,
and builds a V2 request MLServer can decode; scripts/check_serving_extras.py reads requirements-serving.in's
groups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import REPO

BENCH = REPO / "scripts" / "bench_serving.py"


def run(*args: str, home: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPSLAB_HOME": str(home)} if home else None  # its own registry: the model it trains
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_help_names_every_server_and_an_unknown_one_is_refused():
    shown = run("--help")
    assert shown.returncode == 0, shown.stderr
    for name in ("lab", "mlflow", "bentoml", "mlserver", "floor", "--requests", "--bentoml-python",
                 "--mlserver-python", "--workers"):
        assert name in shown.stdout, name
    refused = run("--servers", "lab,torchserve")
    assert refused.returncode == 2 and "unknown server(s) torchserve" in refused.stderr, refused.stderr


def test_lab_and_mlflow_serve_the_same_model_end_to_end_and_missing_frameworks_are_skipped(tmp_path):
    missing = str(tmp_path / "no-venv" / "bin" / "python")
    out = tmp_path / "results.json"
    done = run("--requests", "6", "--connections", "2", "--warmup", "0", "--batch", "3", "--json", str(out),
               "--bentoml-python", missing, "--mlserver-python", missing, home=tmp_path / "home")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name, module in (("bentoml", "bentoml"), ("mlserver", "mlserver_mlflow")):
        assert f"{name}: skipped, {module} is not installed for {missing}" in done.stdout, done.stdout
    first = dict(line.split(": up; first record P(churn) = ") for line in done.stdout.splitlines() if ": up;" in line)
    assert set(first) == {"lab", "mlflow"}, done.stdout
    assert first["lab"] == first["mlflow"], f"the two servers do not serve the same model: {first}"
    assert "floor: up (a constant answer)" in done.stdout
    results = json.loads(out.read_text())
    assert set(results) == {"lab-1", "lab-3", "mlflow-1", "mlflow-3", "floor-1", "floor-3"}
    assert all(r["requests"] == 6 and r["failed"] == 0 for r in results.values()), results
    assert "1 record(s), lab throughput against: mlflow" in done.stdout and ", floor " in done.stdout
    assert "load average" in done.stdout and "load average after the runs" in done.stdout
    table = [line for line in done.stdout.splitlines() if line.startswith(("| lab server | 1 |", "| lab server | 3 |"))]
    assert len(table) == 2 and all("%" in line for line in table), "the markdown table gives the floor's share"


def test_the_v2_request_has_one_typed_tensor_per_feature():
    from bench_serving import v2_request

    frame = pd.DataFrame({"age": [30.0, 41.0], "tickets": [1, 0], "plan": ["basic", "premium"]})
    records = frame.to_dict("records")
    body = json.loads(v2_request(records, list(frame.columns), {c: str(t) for c, t in frame.dtypes.items()}))
    assert body["parameters"] == {"content_type": "pd"}
    assert body["inputs"] == [
        {"name": "age", "shape": [2], "datatype": "FP64", "data": [30.0, 41.0]},
        {"name": "tickets", "shape": [2], "datatype": "INT64", "data": [1, 0]},
        {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic", "premium"]},
    ]


def test_the_serving_extras_are_pinned_in_groups_with_the_models_stack():
    from check_serving_extras import groups, model_stack

    found = groups()
    assert set(found) == {"bentoml", "mlserver"}, found
    assert all("==" in requirement for requirement in sum(found.values(), [])), "pin every serving extra"
    assert {r.split("==")[0] for r in model_stack()} == {"mlflow", "scikit-learn", "pandas", "numpy"}


def test_the_chapters_chart_is_drawn_from_the_benchmarks_json(tmp_path):
    from figure_serving_frameworks import draw

    results = json.loads((REPO / "book" / "m6" / "serving_frameworks.json").read_text())
    peers = {"lab", "mlflow", "bentoml", "mlserver"}
    assert peers <= {k.rsplit("-", 1)[0] for k in results} <= peers | {"floor"}  # the floor, once re-measured
    draw(results, tmp_path / "chart.svg")
    svg = (tmp_path / "chart.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    committed = (REPO / "book" / "m6" / "serving_frameworks.svg").read_text()
    assert svg == committed, "the committed chart is stale: rerun scripts/figure_serving_frameworks.py"

"""The lab server as a real uvicorn process on loopback: HTTP, kill -9 durability, reload under load."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from opslab.registry import champion_uri
from opslab.serve.process import LabServer
from serve_support import AUTH, TOKEN, ensure_champion, sample_records


@pytest.fixture(scope="module")
def versions():
    """The champion (version 1 unless moved) and a second version under the alias ``challenger``."""
    from opslab.train import train_and_register

    champion = ensure_champion()
    challenger = train_and_register(force=True, alias="challenger", quiet=True)
    return str(champion.version), str(challenger.version)


@pytest.fixture(scope="module")
def server(versions, tmp_path_factory):
    with LabServer(data_dir=tmp_path_factory.mktemp("serve-process"), admin_token=TOKEN) as lab:
        yield lab.url


def test_real_server_answers_over_http(server):
    with httpx.Client(base_url=server, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        answers = http.post("/predict", json=sample_records(3)).json()["predictions"]
        assert len(answers) == 3 and all(a["model_name"] == "churn-classifier" for a in answers)
        assert (
            http.post("/predict", content=b"{", headers={"content-type": "application/json"}).status_code
            == 400
        )
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'opslab_requests_total{endpoint="/predict",method="POST",status="400"} 1.0' in metrics.text
        assert http.get("/docs").status_code == 200


def test_reload_under_traffic_fails_no_request(server, versions):
    """Ten reloads while four clients send requests: none fails, and around every reload traffic
    flows (requests answered before it, and after it by the version it loaded). No count or rate is
    asserted: the bounded wait only keeps a broken server from hanging the test."""
    champion, challenger = versions
    record = sample_records(1)[0]
    stop, outcomes, lock = threading.Event(), [], threading.Lock()

    def traffic():
        with httpx.Client(base_url=server, timeout=30) as http:
            for _ in range(20000):  # bounded, though the stop event ends it much sooner
                if stop.is_set():
                    return
                try:
                    response = http.post("/predict", json=record)
                    outcome = (
                        response.status_code,
                        response.json()["predictions"][0]["model_version"]
                        if response.status_code == 200
                        else response.text,
                    )
                except httpx.HTTPError as err:
                    outcome = ("transport error", repr(err))
                with lock:
                    outcomes.append(outcome)

    def answered_by_since(version: str, since: int, wait: float = 60) -> bool:
        """Whether a request that completed after position ``since`` was answered by ``version``."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with lock:
                if any(v == version for _, v in outcomes[since:]):
                    return True
            time.sleep(0.01)
        return False

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for t in threads:
        t.start()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    reloads = []  # (alias, requests completed before the reload began, ... when it had answered)
    try:
        assert answered_by_since(champion, 0), "no traffic was answered before the first reload"
        with httpx.Client(base_url=server, timeout=60) as admin:
            for alias in ["challenger", "champion"] * 5:
                with lock:
                    before = len(outcomes)
                reply = admin.post(
                    "/admin/reload", json={"model_uri": f"models:/churn-classifier@{alias}"}, headers=auth
                )
                assert reply.status_code == 200, reply.text
                with lock:
                    after = len(outcomes)
                loaded = challenger if alias == "challenger" else champion
                assert answered_by_since(loaded, after), f"after reload to @{alias}, no request got version {loaded}"
                reloads.append((alias, before, after))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    print(f"{len(outcomes)} requests during 10 reloads; (alias, before, after) per reload: {reloads}")
    failures = [o for o in outcomes if o[0] != 200]
    assert not failures, f"{len(failures)} of {len(outcomes)} requests failed during reloads: {failures[:3]}"
    assert {v for _, v in outcomes} == {champion, challenger}
    assert httpx.get(f"{server}/model").json()["version"] == champion


def test_kill_9_loses_no_acknowledged_prediction(versions, tmp_path):
    """Every prediction a client got a 200 for is in the log after the server is killed with SIGKILL."""
    lab = LabServer(data_dir=tmp_path).start()
    records = sample_records(20)
    acknowledged, lock, enough = [], threading.Lock(), threading.Event()

    def traffic(offset):
        with httpx.Client(base_url=lab.url, timeout=10) as http:
            for i in range(2000):
                body = records[(offset + i) % 20] if i % 3 else records[:5]
                try:
                    response = http.post("/predict", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200:
                    with lock:
                        acknowledged.extend(a["prediction_id"] for a in response.json()["predictions"])
                        if len(acknowledged) >= 300:
                            enough.set()

    threads = [threading.Thread(target=traffic, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(timeout=120), "the server did not acknowledge 300 predictions in time"
        lab.kill()  # SIGKILL mid-traffic: requests are in flight
    finally:
        for t in threads:
            t.join(timeout=30)
        lab.stop()
    assert lab.process.returncode == -signal.SIGKILL
    with LabServer(data_dir=tmp_path, admin_token=TOKEN) as restarted:
        logged = httpx.get(f"{restarted.url}/predictions", params={"limit": 1000}, headers=AUTH).json()["predictions"]
    logged_ids = {p["prediction_id"] for p in logged}
    missing = set(acknowledged) - logged_ids
    assert len(acknowledged) >= 300 and not missing, f"{len(missing)} acknowledged predictions were lost"


def test_serve_without_a_champion_says_run_train(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO

    env = {**os.environ, "OPSLAB_HOME": str(tmp_path), "PYTHONPATH": str(REPO / "src")}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [sys.executable, "-m", "opslab", "serve", "--port", "8000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "opslab train" in done.stdout and champion_uri() in done.stdout


def test_two_workers_share_one_prediction_log(tmp_path):
    ensure_champion()
    records = sample_records(5)
    ids, lock = [], threading.Lock()

    def traffic(lab_url):
        with httpx.Client(base_url=lab_url, timeout=30) as http:
            for _ in range(25):
                response = http.post("/predict", json=records)
                if response.status_code != 200:
                    return  # the count below then fails
                with lock:
                    ids.extend(a["prediction_id"] for a in response.json()["predictions"])

    with LabServer(data_dir=tmp_path, workers=2, admin_token=TOKEN) as lab:
        threads = [threading.Thread(target=traffic, args=(lab.url,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        logged = httpx.get(f"{lab.url}/predictions", params={"limit": 1000}, headers=AUTH).json()["predictions"]
    assert len(ids) == 4 * 25 * 5
    assert {p["prediction_id"] for p in logged} == set(ids)

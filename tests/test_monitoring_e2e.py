"""End to end, all real: lab server -> Prometheus (the course's rules, clock compressed 60x) ->
Alertmanager -> webhook receiver. Bad traffic fires exactly the expected alert, which then resolves;
clean traffic fires nothing; drift fires the drift alert (once the server exports PSI)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from opslab.background import group_members
from opslab.data import FEATURES, make_traffic
from opslab.monitoring import MonitoringStack
from opslab.serve.process import LabServer
from serve_support import ensure_champion, sample_records

ALERT_TIMEOUT = 90  # bound on "within": compressed rules need about 10 s; the margin is for a loaded CI machine


@pytest.fixture(scope="module")
def lab(offline_lab_home, tmp_path_factory):
    ensure_champion()
    with LabServer(data_dir=tmp_path_factory.mktemp("lab-server")) as server:
        yield server


@pytest.fixture
def stack(lab, tmp_path):
    with MonitoringStack(tmp_path / "monitoring", [lab.url], speedup=60) as running:
        running.prometheus.wait_for('up{job="opslab"} == 1', timeout=30)
        pids = [s.process.pid for s in (running.prometheus, running.alertmanager, running.webhook)]
        yield running
    assert all(group_members(pid) == [] for pid in pids), "a monitoring process outlived its stack"


CUSTOMERS = json.loads(make_traffic(days=1, scenario="none", n_per_day=1000, seed=3)[FEATURES].to_json(orient="records"))


def send(url: str, seconds: float, bad_every: int = 0) -> int:
    """Predict five production customers at a time (the training world: no drift) for ``seconds``;
    every ``bad_every``-th request is invalid. Varied customers, not five repeated ones, or the drift
    window would hold five distinct values and every PSI alert would fire."""
    good = sample_records(1)
    sent = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent += 1
            if bad_every and sent % bad_every == 0:
                assert client.post("/predict", json={**good[0], "age": "old"}).status_code == 422
            else:
                start = (5 * sent) % (len(CUSTOMERS) - 5)
                assert client.post("/predict", json=CUSTOMERS[start : start + 5]).status_code == 200
            time.sleep(0.02)
    return sent


def test_clean_traffic_fires_no_alert(lab, stack):
    send(lab.url, 20)  # longer than every compressed `for:` window that clean traffic could touch
    assert stack.prometheus.query("opslab:requests:rate5m{endpoint='/predict'} > 1"), "Prometheus saw no traffic"
    assert stack.prometheus.alerts() == []  # not even pending
    assert stack.webhook.received() == []


def test_a_burst_of_bad_requests_fires_the_reject_alert_at_the_webhook_then_it_resolves(lab, stack):
    started = time.monotonic()
    while not stack.webhook.alerts() and time.monotonic() - started < ALERT_TIMEOUT:
        send(lab.url, 2, bad_every=2)  # half the requests refused with 422
    firing = stack.webhook.wait_for(lambda rows: rows, timeout=1)
    assert [(a["alertname"], a["status"], a["labels"]["endpoint"], a["labels"]["severity"]) for a in firing] == [
        ("OpslabHighRejectRatio", "firing", "/predict", "warning")]
    assert firing[0]["receiver"] == "webhook"
    rows = stack.webhook.wait_for(lambda rows: any(a["status"] == "resolved" for a in rows), timeout=ALERT_TIMEOUT)
    assert [(a["alertname"], a["status"]) for a in rows] == [("OpslabHighRejectRatio", "firing"),
                                                             ("OpslabHighRejectRatio", "resolved")]


def _records(frame) -> list[dict]:
    return json.loads(frame[FEATURES].to_json(orient="records"))


# DRIFT: needs opslab_feature_psi from the m5server branch. It skips ONLY when the lab server's
# /metrics has no opslab_feature_psi at all after 500 predictions; remove the skip once merged.
def test_sudden_drift_fires_the_major_drift_alert_and_no_drift_fires_none(lab, stack):
    traffic = make_traffic(days=20, scenario="sudden", n_per_day=500, seed=0, onset=10)
    before, after = _records(traffic[traffic.day == 0]), _records(traffic[traffic.day == 15])
    with httpx.Client(base_url=lab.url, timeout=30) as client:
        for i in range(0, len(before), 50):
            assert client.post("/predict", json=before[i:i + 50]).status_code == 200
        if "opslab_feature_psi" not in client.get("/metrics").text:
            pytest.skip("the lab server exports no opslab_feature_psi yet (m5server branch not merged)")
        stack.prometheus.wait_for("opslab:feature_psi:max", timeout=30)
        time.sleep(20)  # longer than the compressed `for:` of both drift alerts: no drift, no alert
        assert stack.webhook.received() == [], "an alert without drift"
        for i in range(0, len(after), 50):
            assert client.post("/predict", json=after[i:i + 50]).status_code == 200
    onset = time.monotonic()
    rows = stack.webhook.wait_for(lambda r: any(a["alertname"] == "OpslabFeatureDriftMajor" for a in r),
                                  timeout=ALERT_TIMEOUT)
    print(f"drift onset to alert at the webhook: {time.monotonic() - onset:.1f} s")
    major = {a["labels"]["feature"] for a in rows if a["alertname"] == "OpslabFeatureDriftMajor"}
    psi = {r["metric"]["feature"]: r["value"] for r in stack.prometheus.query("opslab_feature_psi")}
    assert {a["alertname"] for a in rows} <= {"OpslabFeatureDriftMajor", "OpslabFeatureDriftModerate"}
    assert "monthly_charges" in major and all(psi[f] > 0.25 for f in major), (major, psi)
    moderate = {a["labels"]["feature"] for a in rows if a["alertname"] == "OpslabFeatureDriftModerate"}
    assert not moderate & major, "moderate drift of a feature with major drift should be inhibited"

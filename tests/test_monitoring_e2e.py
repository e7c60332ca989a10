"""End to end, all real: lab server -> Prometheus (the course's rules, clock compressed 60x) ->
Alertmanager -> webhook receiver. Bad traffic fires exactly the expected alert, which then resolves;
clean traffic fires nothing; sudden drift fires the drift alert, no drift fires none."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from opslab.background import group_members
from opslab.data import FEATURES, production_day
from opslab.monitoring import MonitoringStack
from opslab.serve.process import LabServer
from opslab.traffic.replay import replay
from serve_support import ensure_champion

ALERT_TIMEOUT = 90  # bound on "within": compressed rules need about 10 s; the margin is for a loaded CI machine


@pytest.fixture(scope="module")
def lab(offline_lab_home, tmp_path_factory):
    ensure_champion()
    with LabServer(data_dir=tmp_path_factory.mktemp("lab-server")) as server:
        yield server


@pytest.fixture
def stack(lab, tmp_path):
    # realistic traffic first: the drift window (the last 500 predictions) then holds a day of the training
    # world, whatever an earlier test sent, so its PSI is low before Prometheus starts watching
    calm = replay(lab.url, "none", days=1, n_per_day=500, seed=0, label_coverage=0, progress=False)
    assert calm.total("accepted") == 500, str(calm)
    with MonitoringStack(tmp_path / "monitoring", [lab.url], speedup=60) as running:
        running.prometheus.wait_for('up{job="opslab"} == 1', timeout=30)
        pids = [s.process.pid for s in (running.prometheus, running.alertmanager, running.webhook)]
        yield running
    assert all(group_members(pid) == [] for pid in pids), "a monitoring process outlived its stack"


def send(url: str, seconds: float, bad_every: int = 0) -> int:
    """Predict five customers at a time for ``seconds``, cycling through the calm day the ``stack`` fixture
    sent (so the drift window stays that day's customers); every ``bad_every``-th request is invalid."""
    records = json.loads(production_day(0, "none", 500, 0)[FEATURES].to_json(orient="records"))
    sent = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent += 1
            good = records[(5 * sent) % 500:(5 * sent) % 500 + 5]
            if bad_every and sent % bad_every == 0:
                assert client.post("/predict", json={**good[0], "age": "old"}).status_code == 422
            else:
                assert client.post("/predict", json=good).status_code == 200
            time.sleep(0.02)
    return sent


@pytest.mark.notebooks
def test_clean_traffic_fires_no_alert(lab, stack):
    send(lab.url, 20)  # longer than every compressed `for:` window that clean traffic could touch
    assert stack.prometheus.query("opslab:requests:rate5m{endpoint='/predict'} > 1"), "Prometheus saw no traffic"
    assert stack.prometheus.alerts() == []  # not even pending
    assert stack.webhook.received() == []


@pytest.mark.notebooks
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


# What the sudden shift does to the 500 records of its first day (seed 0), by the server's PSI:
# charges, tickets and region past 0.25 (major), plan between 0.1 and 0.25 (moderate), the rest below 0.1.
MAJOR = {"monthly_charges", "region", "support_tickets_90d"}
MODERATE = {"plan"}


@pytest.mark.notebooks
def test_sudden_drift_fires_exactly_the_expected_drift_alerts_and_no_drift_fires_none(lab, stack):
    # the stack fixture sent a calm day: the drift window (500 records) holds only the training world
    assert "opslab_feature_psi" in httpx.get(f"{lab.url}/metrics").text, "no PSI after 500 predictions"
    stack.prometheus.wait_for("opslab:feature_psi:max", timeout=30)
    time.sleep(20)  # longer than the compressed `for:` of both drift alerts (5 s and 15 s)
    assert stack.prometheus.alerts() == [], "an alert (even pending) without drift"
    assert stack.webhook.received() == [], "a notification without drift"

    shifted = replay(lab.url, "sudden", days=1, n_per_day=500, seed=0, onset=0, label_coverage=0, progress=False)
    assert shifted.total("accepted") == 500, str(shifted)
    onset = time.monotonic()
    expected = {("OpslabFeatureDriftMajor", f) for f in MAJOR} | {("OpslabFeatureDriftModerate", f) for f in MODERATE}

    def seen(rows):
        return {(a["alertname"], a["labels"].get("feature")) for a in rows}

    rows = stack.webhook.wait_for(lambda r: seen(r) >= expected, timeout=ALERT_TIMEOUT)
    print(f"drift onset to the last expected alert at the webhook: {time.monotonic() - onset:.1f} s")
    psi = {r["metric"]["feature"]: r["value"] for r in stack.prometheus.query("opslab_feature_psi")}
    assert {f for f, v in psi.items() if v > 0.25} == MAJOR, psi
    assert {f for f, v in psi.items() if 0.1 < v <= 0.25} == MODERATE, psi
    time.sleep(3)  # a few more Alertmanager group intervals: nothing else arrives
    rows = stack.webhook.alerts()
    assert seen(rows) == expected, seen(rows)  # moderate drift of the major features is inhibited
    assert {a["status"] for a in rows} == {"firing"}
    assert all(a["labels"]["severity"] == ("critical" if a["alertname"].endswith("Major") else "warning") for a in rows)
    firing_in_prometheus = {(a["labels"]["alertname"], a["labels"]["feature"]) for a in stack.prometheus.alerts()
                            if a["state"] == "firing"}
    assert {("OpslabFeatureDriftModerate", f) for f in MAJOR} <= firing_in_prometheus  # fired, yet not delivered

"""Retention of the prediction log: the log keeps at most --log-max-rows predictions (and none older
than --log-max-days), pruned oldest first in short transactions by a thread of its own; /predictions
and /metrics stay right after pruning."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from opslab.registry import champion_uri
from opslab.serve.app import ServeSettings, create_app
from opslab.serve.prediction_log import PredictionLog, utc_now
from opslab.serve.retention import LogKeeper
from serve_support import TOKEN, ensure_champion, sample_records


def _rows(start: int, n: int, timestamp: str | None = None) -> list[tuple]:
    return [(f"{i:032x}", timestamp or utc_now(), "m", "1", {"age": i}, i % 2, 0.5) for i in range(start, start + n)]


def _ids(path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [pid for (pid,) in db.execute("SELECT prediction_id FROM predictions ORDER BY rowid")]


def test_pruning_keeps_the_newest_max_rows_in_short_transactions(tmp_path):
    path = tmp_path / "p.db"
    log = PredictionLog(path)
    for start in range(0, 1000, 100):
        log.record(_rows(start, 100))
    keeper = LogKeeper(path, max_rows=250, chunk=100)
    assert keeper.run_once() == 750
    assert _ids(path) == [f"{i:032x}" for i in range(750, 1000)]  # the newest 250, oldest first gone
    assert keeper.transactions == 8  # 750 rows in chunks of at most 100: a writer never waits long
    log.record(_rows(1000, 10))
    assert keeper.run_once() == 10 and len(_ids(path)) == 250
    assert keeper.run_once() == 0  # within bounds: nothing to do
    keeper.stop()
    log.close()


def test_pruning_by_age_drops_what_is_older_than_max_days(tmp_path):
    path = tmp_path / "p.db"
    log = PredictionLog(path)
    old = (datetime.now(timezone.utc) - timedelta(days=10)).isoformat(timespec="microseconds")
    log.record(_rows(0, 30, old))
    log.record(_rows(30, 20))
    keeper = LogKeeper(path, max_rows=None, max_days=7, chunk=8)
    assert keeper.run_once() == 30
    assert _ids(path) == [f"{i:032x}" for i in range(30, 50)]
    keeper.stop()
    log.close()


def test_bounds_must_make_sense(tmp_path):
    with pytest.raises(ValueError, match="max_rows"):
        LogKeeper(tmp_path / "p.db", max_rows=0)
    with pytest.raises(ValueError, match="max_days"):
        LogKeeper(tmp_path / "p.db", max_days=-1)


ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_the_server_bounds_its_log_and_its_answers_stay_right(tmp_path):
    ensure_champion()
    settings = ServeSettings(model_uri=champion_uri(), data_dir=tmp_path, log_max_rows=30, admin_token=TOKEN)
    records = sample_records(10)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        served = []
        for _ in range(5):
            answer = client.post("/predict", json=records)
            assert answer.status_code == 200
            served += [p["prediction_id"] for p in answer.json()["predictions"]]
        client.app.state.keeper.run_once()  # the keeper's thread does this every half second; now, for the test
        listed = client.get("/predictions", params={"limit": 1000}, headers=ADMIN).json()["predictions"]
        logged = [p["prediction_id"] for p in listed]
        assert logged == served[-30:][::-1], "the log must keep exactly the newest 30, newest first"
        gone, kept = served[0], served[-1]
        assert client.post("/feedback", json={"prediction_id": gone, "churned": 1}).status_code == 404
        assert client.post("/feedback", json={"prediction_id": kept, "churned": 1}).status_code == 200
        metrics = client.get("/metrics").text
        assert _metric(metrics, "opslab_predictions_total{") == 50  # counters count what was served
        assert _metric(metrics, "opslab_drift_window_records ") == 30  # windows read what the log holds
        assert _metric(metrics, "opslab_feedback_labelled_records ") == 1
        again = client.post("/predict", json=records[0])
        assert again.status_code == 200
        client.app.state.keeper.run_once()
        newest = client.get("/predictions", params={"limit": 1000}, headers=ADMIN).json()["predictions"]
        assert len(newest) == 30 and newest[0]["prediction_id"] == again.json()["predictions"][0]["prediction_id"]

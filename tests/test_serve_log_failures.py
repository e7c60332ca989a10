"""When the prediction log cannot be written: a 503 that says so, no transaction left open, earlier
rows intact, service again once the log is writable; and a write stuck on a lock never stalls the
event loop (so /health answers meanwhile)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from opslab.background import group_members
from opslab.registry import champion_uri
from opslab.serve.app import ServeSettings, create_app
from opslab.serve.prediction_log import PredictionLog, PredictionLogError, utc_now
from opslab.serve.process import LabServer
from serve_support import AUTH, TOKEN, ensure_champion, sample_records


def _row(i: int) -> tuple:
    return (f"{i:032x}", utc_now(), "m", "1", {"age": i}, 0, 0.25)


def _integrity(path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def _ids(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {pid for (pid,) in db.execute("SELECT prediction_id FROM predictions")}


def until(condition, what: str, timeout: float = 60) -> None:
    """Poll ``condition`` until it holds: synchronise on a state, not on a guessed duration."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"after {timeout:g} s: {what}"
        time.sleep(0.01)


def sleeping_threads(pid: int) -> int:
    """How many threads of the process group ``pid`` sleep in the kernel's nanosleep right now: SQLite's
    busy handler waits for a lock that way (uvicorn's loop waits in epoll, idle pool threads on a futex)."""
    count = 0
    for member in group_members(pid):
        for task in Path(f"/proc/{member}/task").glob("*"):
            try:
                count += (task / "wchan").read_text().strip() in ("hrtimer_nanosleep", "do_nanosleep")
            except OSError:
                continue
    return count


def test_a_failed_commit_is_rolled_back_and_the_log_keeps_working(tmp_path):
    """SQLite refuses the COMMIT itself (an authorizer denies it, as a full disk or I/O error would
    fail it): the transaction must not stay open, or every later BEGIN fails."""
    log = PredictionLog(tmp_path / "p.db")
    log.record([_row(1)])
    refuse = {"commit": True}

    def authorizer(action, arg1, *_):
        if action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT" and refuse["commit"]:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    log._db.set_authorizer(authorizer)
    with pytest.raises(PredictionLogError, match="not authorized"):
        log.record([_row(2)])
    assert not log._db.in_transaction
    with pytest.raises(PredictionLogError):  # still failing: fails the same way, not "within a transaction"
        log.record([_row(3)])
    refuse["commit"] = False
    log.record([_row(4)])
    assert log.add_feedback(f"{4:032x}", 1)
    log.close()
    assert _ids(tmp_path / "p.db") == {f"{1:032x}", f"{4:032x}"}  # the refused rows were never kept
    assert _integrity(tmp_path / "p.db") == "ok"


def test_a_write_that_must_not_wait_gives_way_to_another_writer(tmp_path):
    """record(wait=False), which the server calls on its event loop, returns False at once when
    another process holds the write lock, having written nothing; record() then waits for it."""
    log = PredictionLog(tmp_path / "p.db", timeout=60)
    assert log.record([_row(1)], wait=False)
    other = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    assert log.record([_row(2)], wait=False) is False
    waiting = threading.Thread(target=log.record, args=([_row(3)],))
    waiting.start()
    until(log._lock.locked, "the waiting write never took the log")  # it holds the log, waiting for `other`
    # No waiting here either: False at once, while the waiting write still waits (had this call waited
    # for the log, it would return only once that write had given up, 60 s later).
    assert log.record([_row(4)], wait=False) is False
    assert waiting.is_alive()
    other.execute("ROLLBACK")
    other.close()
    waiting.join(timeout=60)
    assert log.record([_row(5)], wait=False)
    log.close()
    assert _ids(tmp_path / "p.db") == {f"{i:032x}" for i in (1, 3, 5)}


@pytest.fixture
def app_and_log(tmp_path):
    ensure_champion()
    settings = ServeSettings(model_uri=champion_uri(), data_dir=tmp_path, log_timeout=0.2, admin_token=TOKEN)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, tmp_path / "predictions.db"


def _served(client) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("opslab_predictions_total{")
    )


def _assert_log_unwritable(response):
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert "prediction log cannot be written" in detail and "not served" in detail


def test_a_full_log_is_503_and_serving_resumes_when_there_is_room(app_and_log):
    client, path = app_and_log
    records = sample_records(20)
    first = client.post("/predict", json=records[:2]).json()["predictions"]
    connections = client.app.state.log._connections  # the server's own: max_page_count is per connection
    pages = connections[0].execute("PRAGMA page_count").fetchone()[0]
    for db in connections:
        db.execute(f"PRAGMA max_page_count = {pages}")  # the database is full
    big_batch = records * 20  # needs new pages
    for _ in range(3):
        _assert_log_unwritable(client.post("/predict", json=big_batch))
    assert _served(client) == 2  # the refused predictions were not counted as served
    for db in connections:
        db.execute("PRAGMA max_page_count = 1073741823")  # room again
    again = client.post("/predict", json=big_batch)
    assert again.status_code == 200 and len(again.json()["predictions"]) == 400
    assert client.post("/feedback", json={"prediction_id": first[0]["prediction_id"], "churned": 1}).status_code == 200
    logged = _ids(path)
    assert {a["prediction_id"] for a in first} <= logged and len(logged) == 402
    assert _integrity(path) == "ok"


def test_a_log_locked_past_the_timeout_is_503_then_serves_again(app_and_log):
    client, path = app_and_log
    record = sample_records(1)[0]
    first = client.post("/predict", json=record).json()["predictions"][0]["prediction_id"]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        _assert_log_unwritable(client.post("/predict", json=record))
        _assert_log_unwritable(client.post("/feedback", json={"prediction_id": first, "churned": 0}))
        assert client.get("/health").status_code == 200
        newest = client.get("/predictions", headers=AUTH).json()["predictions"][0]
        assert newest["prediction_id"] == first  # reads go on
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert client.post("/predict", json=record).status_code == 200
    assert client.post("/feedback", json={"prediction_id": first, "churned": 0}).status_code == 200
    assert len(_ids(path)) == 2 and _integrity(path) == "ok"


def test_health_answers_while_a_prediction_waits_for_the_log(tmp_path):
    """A real uvicorn server: while another connection holds the log's write lock, a /predict waits
    (up to --log-timeout); /health must still answer meanwhile, since the wait is not on the loop."""
    ensure_champion()
    record = sample_records(1)[0]
    with LabServer(data_dir=tmp_path, admin_token=TOKEN, extra_args=["--log-timeout", "120"]) as lab:
        assert httpx.post(f"{lab.url}/predict", json=record, timeout=30).status_code == 200
        other = sqlite3.connect(tmp_path / "predictions.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        outcome = {}

        def predict():
            outcome["response"] = httpx.post(f"{lab.url}/predict", json=record, timeout=180)

        pending = threading.Thread(target=predict)
        try:
            before = 0  # the most threads that sleep anyway (a background thread may nap now and then)
            for _ in range(30):
                before = max(before, sleeping_threads(lab.process.pid))
                time.sleep(0.01)
            pending.start()
            # until the prediction waits for the lock: a server thread sleeping in SQLite's busy handler
            until(lambda: sleeping_threads(lab.process.pid) > before,
                  "the prediction never reached the log's lock")
            health = httpx.get(f"{lab.url}/health", timeout=60)  # the event loop answers
            metrics = httpx.get(f"{lab.url}/metrics", timeout=60)
            still_pending = pending.is_alive()
        finally:
            other.execute("ROLLBACK")
            other.close()
            pending.join(timeout=180)
        assert health.status_code == 200 and metrics.status_code == 200
        assert still_pending, "the prediction did not wait for the lock"
        assert outcome["response"].status_code == 200  # and it was served once the lock was released
        logged = httpx.get(f"{lab.url}/predictions", headers=AUTH, timeout=30).json()["predictions"]
    assert len(logged) == 2

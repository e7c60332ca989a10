"""The prediction log: every answer the server gives, in SQLite (WAL), committed before the
response leaves, so nothing a client was told is lost if the process is killed."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    prediction_id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    inputs TEXT NOT NULL,
    churned INTEGER NOT NULL,
    probability REAL NOT NULL,
    feedback INTEGER,
    feedback_timestamp TEXT
);
CREATE INDEX IF NOT EXISTS predictions_by_time ON predictions (timestamp);
CREATE INDEX IF NOT EXISTS labelled_by_time ON predictions (timestamp, feedback, churned, probability)
    WHERE feedback IS NOT NULL;
"""
# labelled_by_time: the feedback window of /metrics (the newest labelled predictions) is read from
# this small covering index, so a scrape costs the same with 10^3 or 10^6 rows in the log.


_compact = json.JSONEncoder(separators=(",", ":"))


def _dumps(inputs) -> str:
    """A record as compact JSON text: orjson (a few times faster), or json for what orjson refuses."""
    try:
        return orjson.dumps(inputs).decode()
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, an integer over 64 bits, a foreign type
        return _compact.encode(inputs)


class PredictionLogError(RuntimeError):
    """The log could not be written (locked past the timeout, full, read-only, I/O error); nothing
    of the failed write was kept, and the log takes writes again once the cause is gone."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class PredictionLog:
    """One SQLite file shared by every worker process. ``synchronous`` NORMAL (the default here)
    survives a killed process, since a commit has reached the WAL file before it returns; FULL also
    survives a power cut, at a cost of an fsync per request. A write waits up to ``timeout`` seconds
    for another writer's lock, then fails with :class:`PredictionLogError`: call such blocking
    methods from a worker thread, not from the event loop. ``record(rows, wait=False)`` never waits
    (it returns False instead), so it may run on the event loop."""

    def __init__(self, path: str | Path, synchronous: str = "NORMAL", timeout: float = 10):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=timeout)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(SCHEMA)
        # a second connection that never waits for a lock (busy timeout 0), for record(wait=False)
        self._at_once = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        self._at_once.execute(f"PRAGMA synchronous={synchronous}")
        self._connections = (self._db, self._at_once)
        self._lock = threading.Lock()

    def record(self, rows: list[tuple], wait: bool = True) -> bool:
        """Commit predictions: (prediction_id, timestamp, model_name, model_version, inputs_dict,
        churned, probability). Returns True once they are committed; with ``wait=False``, returns False
        at once, having written nothing, if another writer holds the log's lock."""
        dumps = _dumps
        data = [
            (pid, ts, name, version, dumps(inputs), churned, p)
            for pid, ts, name, version, inputs, churned, p in rows
        ]
        if not self._lock.acquire(blocking=wait):
            return False
        db = self._db if wait else self._at_once
        try:
            if db.in_transaction:  # left open by a failure we could not roll back
                _roll_back(db)
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO predictions (prediction_id, timestamp, model_name, model_version, inputs, "
                "churned, probability) VALUES (?, ?, ?, ?, ?, ?, ?)",
                data,
            )
            db.execute("COMMIT")
            return True
        except sqlite3.Error as err:
            _roll_back(db)  # a failed INSERT or COMMIT leaves the transaction open: every later BEGIN fails
            # the primary code: SQLITE_BUSY_RECOVERY (another process recovering the WAL after a crash) and
            # SQLITE_BUSY_SNAPSHOT are extended codes of SQLITE_BUSY, and mean "wait" too
            if not wait and (getattr(err, "sqlite_errorcode", None) or 0) & 0xFF == sqlite3.SQLITE_BUSY:
                return False  # another process is writing: the caller waits for it, off the event loop
            raise PredictionLogError(f"{self.path}: {err}") from None
        except BaseException:
            _roll_back(db)
            raise
        finally:
            self._lock.release()

    def add_feedback(self, prediction_id: str, churned: int) -> bool:
        """Store the true label next to its prediction; False if the id is unknown."""
        with self._lock:
            try:
                if self._db.in_transaction:  # left open by a failure we could not roll back
                    _roll_back(self._db)
                cursor = self._db.execute(
                    "UPDATE predictions SET feedback = ?, feedback_timestamp = ? WHERE prediction_id = ?",
                    (churned, utc_now(), prediction_id),
                )
            except sqlite3.Error as err:
                raise PredictionLogError(f"{self.path}: {err}") from None
        return cursor.rowcount > 0

    def recent(self, limit: int = 20) -> list[dict]:
        """The newest ``limit`` predictions, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT prediction_id, timestamp, inputs, churned, probability, model_name, model_version, "
                "feedback FROM predictions ORDER BY timestamp DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "prediction_id": pid,
                "timestamp": ts,
                "inputs": json.loads(inputs),
                "churned": churned,
                "probability": p,
                "model_name": name,
                "model_version": version,
                "feedback": feedback,
            }
            for pid, ts, inputs, churned, p, name, version, feedback in rows
        ]

    def defer_checkpoints(self, pages: int) -> None:
        """Let the write-ahead log grow to ``pages`` pages before a commit of this log checkpoints it
        (SQLite's default is 1,000): for a server whose :class:`opslab.serve.retention.LogKeeper`
        checkpoints in a thread of its own, so that no commit on the event loop pays for one."""
        with self._lock:
            for db in self._connections:
                db.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()


def _roll_back(db: sqlite3.Connection) -> None:
    """End a failed transaction, if SQLite has not already (it rolls back on some errors itself)."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # nothing was committed; the next write checks in_transaction again

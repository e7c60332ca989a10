"""Retention and upkeep of the prediction log, off the request path: a thread of its own that keeps
the log to a bounded history and checkpoints its write-ahead log.

- **A bounded history.** At most ``max_rows`` predictions (default 1,000,000) and, if ``max_days``
  is set, none older than that many days. Rows go oldest first, in chunks of ``chunk`` rows, each
  chunk its own short transaction: a prediction that needs the write lock meanwhile waits for one
  chunk at most (in a thread, never on the event loop; see :mod:`opslab.serve.group_commit`).
  The bound on rows is exact without counting: the rows kept all have a rowid in
  ``(newest - max_rows, newest]``.
- **Checkpoints.** In WAL mode, a commit that takes the write-ahead log past 1,000 pages copies it
  into the database file and syncs it (an *autocheckpoint*), inside that commit, so on the event loop
  of whichever request crossed the line. The server's connections raise that threshold
  (:data:`SAFETY_PAGES`, a safety net) and this thread checkpoints instead, every ``interval`` seconds
  when something was written (``PRAGMA wal_checkpoint(PASSIVE)``: it never waits for, nor blocks, a
  writer or a reader), releasing the GIL while SQLite copies and syncs.

With several workers each runs its own keeper; their deletes and checkpoints are idempotent.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

DEFAULT_MAX_ROWS = 1_000_000
SAFETY_PAGES = 20_000  # the serving connections' autocheckpoint threshold (about 80 MB) if this thread stalls


class LogKeeper:
    """Prunes ``path`` to ``max_rows`` rows (and ``max_days`` days, if set) and checkpoints it."""

    def __init__(
        self,
        path: str | Path,
        max_rows: int | None = DEFAULT_MAX_ROWS,
        max_days: float | None = None,
        interval: float = 0.5,
        chunk: int = 2_000,
        timeout: float = 10,
    ):
        if max_rows is not None and max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        if max_days is not None and max_days <= 0:
            raise ValueError(f"max_days must be positive, got {max_days}")
        self.path, self.max_rows, self.max_days = Path(path), max_rows, max_days
        self.interval, self.chunk, self.timeout = interval, chunk, timeout
        self.pruned = 0  # rows this keeper deleted, in this many transactions
        self.transactions = 0
        self._written = 0  # rows written since the last checkpoint (a hint: any value > 0 means "look")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None

    def written(self, rows: int) -> None:
        """Note that ``rows`` were committed (the group committer calls it); cheap, any thread."""
        self._written += rows

    def start(self) -> "LogKeeper":
        self._thread = threading.Thread(target=self._run, name="opslab-log-keeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._db is not None:
            self._db.close()
            self._db = None

    def _run(self) -> None:
        first = True
        while not self._stop.wait(0 if first else self.interval):
            first = False
            try:
                self.run_once()
            except sqlite3.Error as err:  # a locked or full log: try again next time, say why
                print(f"opslab serve: log upkeep failed, retrying: {err}", flush=True)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=self.timeout)
            self._db.execute("PRAGMA synchronous=NORMAL")  # as the server's own connections: no sync per delete
        return self._db

    def run_once(self) -> int:
        """Prune what is over the bounds, then checkpoint if anything was written; rows deleted."""
        if not self.path.exists():
            return 0
        db = self._connection()
        deleted = self._prune(db)
        if self._written or deleted:
            self._written = 0
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return deleted

    def _prune(self, db: sqlite3.Connection) -> int:
        deleted = 0
        if self.max_rows is not None:
            oldest, newest = db.execute("SELECT min(rowid), max(rowid) FROM predictions").fetchone()
            if newest is not None and newest - oldest + 1 > self.max_rows:
                deleted += self._delete_chunks(
                    db,
                    "DELETE FROM predictions WHERE rowid IN "
                    "(SELECT rowid FROM predictions WHERE rowid <= ? ORDER BY rowid LIMIT ?)",
                    newest - self.max_rows,
                )
        if self.max_days is not None:
            cutoff = (datetime.now(timezone.utc) - timedelta(days=self.max_days)).isoformat(timespec="microseconds")
            deleted += self._delete_chunks(
                db,
                "DELETE FROM predictions WHERE rowid IN "
                "(SELECT rowid FROM predictions WHERE timestamp < ? ORDER BY timestamp LIMIT ?)",
                cutoff,
            )
        self.pruned += deleted
        return deleted

    def _delete_chunks(self, db: sqlite3.Connection, sql: str, bound) -> int:
        deleted = 0
        while not self._stop.is_set():
            db.execute("BEGIN IMMEDIATE")
            try:
                n = db.execute(sql, (bound, self.chunk)).rowcount
                db.execute("COMMIT")
                self.transactions += 1
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            deleted += n
            if n < self.chunk:
                break
        return deleted

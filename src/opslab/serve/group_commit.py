"""Group commit for the prediction log: the requests waiting to be logged at one moment share one
SQLite transaction, and each is answered only once that transaction (holding its rows) is committed.

A transaction has a fixed cost (taking the write lock, writing the WAL frame header, the commit
itself) that a single-record request would otherwise pay alone. On the event loop, every request
that reaches this point within one turn of the loop joins the same group: the first one schedules
the flush for the loop's next turn, and the others add their rows meanwhile. The flush writes the
group without waiting for a lock (``PredictionLog.record(wait=False)``, microseconds); if another
writer (another worker, the retention pruner) holds the lock, the flush tries again a fraction of a
millisecond later (the requests arriving meanwhile join the group), and after about 40 ms of tries
waits for the lock in a thread, off the loop, while newcomers form the next group. A failure fails
every request of the group with the same :class:`PredictionLogError`, and nothing of the group is
kept.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from opslab.serve.prediction_log import PredictionLog

# Delays between tries when another writer holds the log's lock, before waiting for it in a thread:
# SQLite's own busy handler sleeps 1 ms, then 2, 5, 10..., far longer than another worker's commit lasts.
RETRY_SECONDS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02)


class GroupCommit:
    """``await commit(rows)`` returns once ``rows`` are committed to ``log``, together with the rows
    of every other request waiting at that moment. ``written`` is called (on the loop) with the
    number of rows of each committed group: the retention pruner counts them."""

    def __init__(self, log: PredictionLog, written: Callable[[int], None] | None = None):
        self.log, self.written = log, written
        self._pending: list[tuple[list[tuple], asyncio.Future]] = []
        self._flush_scheduled = False
        self._waiting = False  # a group is waiting for the lock (retries, or a thread): newcomers queue
        self.groups = 0  # transactions committed, and the requests they answered
        self.requests = 0

    async def commit(self, rows: list[tuple]) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._pending.append((rows, done))
        if not self._flush_scheduled and not self._waiting:
            self._flush_scheduled = True
            loop.call_soon(self._flush, loop)
        await done

    def _flush(self, loop: asyncio.AbstractEventLoop, group: list | None = None, retries: int = 0) -> None:
        self._flush_scheduled = False
        group, self._pending = (group or []) + self._pending, []  # a retried group takes in the newcomers
        if not group:
            return
        rows = [row for request_rows, _ in group for row in request_rows]
        try:
            committed = self.log.record(rows, wait=False)
        except BaseException as err:  # PredictionLogError, or anything else: no request may hang
            self._waiting = False
            _settle(group, err)
            return
        if committed:
            self._waiting = False
            self._done(group, len(rows))
            return
        self._waiting = True  # another writer holds the lock (another worker, the pruner)
        if retries < len(RETRY_SECONDS):  # it is usually a matter of microseconds: try again soon, on the loop
            loop.call_later(RETRY_SECONDS[retries], self._flush, loop, group, retries + 1)
            return
        # held longer: wait for it in a thread (up to the log's timeout), off the loop
        waiting = loop.run_in_executor(None, self.log.record, rows)
        waiting.add_done_callback(lambda finished: self._waited(loop, group, len(rows), finished))

    def _waited(self, loop, group, n_rows: int, finished: asyncio.Future) -> None:
        self._waiting = False
        err = finished.exception()
        if err is None:
            self._done(group, n_rows)
        else:
            _settle(group, err)
        if self._pending and not self._flush_scheduled:  # the requests that queued meanwhile
            self._flush_scheduled = True
            loop.call_soon(self._flush, loop)

    def _done(self, group, n_rows: int) -> None:
        self.groups += 1
        self.requests += len(group)
        _settle(group, None)
        if self.written is not None:
            self.written(n_rows)


def _settle(group, err: BaseException | None) -> None:
    for _, done in group:
        if not done.done():  # a request cancelled meanwhile (its client went away) has nobody to tell
            if err is None:
                done.set_result(None)
            else:
                done.set_exception(err)

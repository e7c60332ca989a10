"""Group commit: the requests waiting to be logged at one moment share one transaction, each is told only
once its rows are committed, a group that finds the log locked waits (off the loop) and takes in the
requests that arrive meanwhile, and a failed group fails every request in it and keeps nothing."""

from __future__ import annotations

import asyncio
import sqlite3

from opslab.serve.group_commit import GroupCommit
from opslab.serve.prediction_log import PredictionLog, PredictionLogError, utc_now


def _rows(start: int, n: int) -> list[tuple]:
    return [(f"{i:032x}", utc_now(), "m", "1", {"age": i}, 0, 0.25) for i in range(start, start + n)]


def _count(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]


def test_requests_waiting_together_share_one_transaction(tmp_path):
    log = PredictionLog(tmp_path / "p.db")
    written = []
    committer = GroupCommit(log, written.append)

    async def requests():
        await asyncio.gather(*(committer.commit(_rows(10 * i, 3)) for i in range(10)))
        assert _count(tmp_path / "p.db") == 30  # every request's rows are durable once it is told
        await committer.commit(_rows(100, 1))  # alone now: a group of its own

    asyncio.run(requests())
    assert (committer.groups, committer.requests) == (2, 11)
    assert written == [30, 1]
    log.close()


def test_a_locked_log_is_waited_for_and_newcomers_join_the_group(tmp_path):
    log = PredictionLog(tmp_path / "p.db", timeout=30)
    committer = GroupCommit(log)
    other = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock

    async def requests():
        first = asyncio.ensure_future(committer.commit(_rows(0, 2)))
        await asyncio.sleep(0.001)
        later = [asyncio.ensure_future(committer.commit(_rows(10 + i, 1))) for i in range(3)]
        await asyncio.sleep(0.2)  # the loop keeps running while the group waits
        assert not first.done() and not any(f.done() for f in later)
        assert _count(tmp_path / "p.db") == 0
        other.execute("ROLLBACK")
        await asyncio.wait_for(asyncio.gather(first, *later), 30)

    asyncio.run(requests())
    other.close()
    assert _count(tmp_path / "p.db") == 5
    assert committer.groups <= 2 and committer.requests == 4  # the three newcomers did not each take a turn
    log.close()


def test_a_failed_group_fails_every_request_and_keeps_nothing(tmp_path):
    log = PredictionLog(tmp_path / "p.db")
    committer = GroupCommit(log)

    async def requests():
        good = committer.commit(_rows(0, 2))
        clash = committer.commit(_rows(0, 1))  # the same prediction_id again: the transaction fails
        return await asyncio.gather(good, clash, return_exceptions=True)

    outcomes = asyncio.run(requests())
    assert all(isinstance(o, PredictionLogError) for o in outcomes), outcomes
    assert _count(tmp_path / "p.db") == 0

    async def again():
        await committer.commit(_rows(5, 1))

    asyncio.run(again())  # and the log takes writes again
    assert _count(tmp_path / "p.db") == 1
    log.close()


def test_nothing_is_written_before_the_loop_turns(tmp_path):
    """The flush waits for the loop's next turn, so requests of the same turn can join it."""
    log = PredictionLog(tmp_path / "p.db")
    committer = GroupCommit(log)

    async def requests():
        task = asyncio.ensure_future(committer.commit(_rows(0, 1)))
        await asyncio.sleep(0)  # the request reaches the committer and waits
        assert _count(tmp_path / "p.db") == 0 and not task.done()
        await task

    asyncio.run(requests())
    assert committer.groups == 1 and _count(tmp_path / "p.db") == 1
    log.close()

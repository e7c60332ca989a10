"""Send the simulator's production traffic to a running lab server, day by day, with delayed labels.

Day ``d`` of :func:`opslab.data.production_day` under a scenario goes to ``POST /predict`` in
batches, exactly as the simulator produced it: a quality incident's nulls become JSON ``null``, a
renamed or missing column stays renamed or missing, so the server refuses those batches (422) and
counts the problems, and the replay records the refusal. The true outcome of a share
(``label_coverage``) of the accepted predictions arrives ``label_lag_days`` days later through
``POST /feedback``, the way labels reach a real system: late and incomplete. The same seed gives the
same traffic and the same choice of labels to send.
"""

from __future__ import annotations

import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import numpy as np

from opslab.data import SCENARIOS, TARGET, production_day


class ReplayError(RuntimeError):
    """The replay cannot go on (no server, a server error); ``str(err)`` names the URL and the cause."""


@dataclass
class DaySummary:
    day: int
    sent: int = 0  # records sent to /predict
    accepted: int = 0  # records that got a prediction
    refused: int = 0  # records in batches the server refused (422)
    labels_sent: int = 0  # feedback accepted on this day (for earlier days' predictions)
    labels_refused: int = 0  # feedback the server refused (e.g. an unknown prediction id)


@dataclass
class ReplaySummary:
    url: str
    scenario: str
    days: list[DaySummary] = field(default_factory=list)
    prediction_ids: dict[int, list[str | None]] = field(default_factory=dict)  # per day, per row; None: refused
    labels_pending: int = 0  # labels due after the last replayed day (not sent)
    refusals: list[str] = field(default_factory=list)  # the first few refusal messages, as the server gave them

    def total(self, column: str) -> int:
        return sum(getattr(d, column) for d in self.days)

    def table(self):
        """One row per day: sent, accepted, refused, labels sent and refused (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([vars(d) for d in self.days]).set_index("day")

    def __str__(self) -> str:
        return (
            f"{self.scenario} traffic to {self.url}: {len(self.days)} days, {self.total('sent')} records sent, "
            f"{self.total('accepted')} predicted, {self.total('refused')} refused; "
            f"{self.total('labels_sent')} labels sent, {self.total('labels_refused')} refused, "
            f"{self.labels_pending} still to come"
        )


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        return response.text[:300]
    if isinstance(detail, list):
        shown = "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in detail[:3])
        return shown + (f"; ... ({len(detail)} problems shown by the server)" if len(detail) > 3 else "")
    return str(detail)


def label_selection(day: int, n: int, coverage: float, seed: int = 0) -> np.ndarray:
    """Which of day ``day``'s ``n`` rows will have their true outcome reported (seeded)."""
    rng = np.random.default_rng([zlib.crc32(b"labels"), seed, day])
    return rng.random(n) < coverage


class _Client:
    """The replay's HTTP calls, each failure turned into a :class:`ReplayError` naming the URL."""

    def __init__(self, url: str, timeout: float):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise ReplayError(
                f"no lab server answers at {self.url} ({type(err).__name__}: {err or 'no answer'}); "
                "start one with `opslab serve` (or LabServer) and pass its URL"
            ) from None
        if response.status_code >= 500:
            raise ReplayError(
                f"the lab server at {self.url} failed on {method} {path}: {response.status_code} {_detail(response)}"
            )
        return response

    def check_ready(self) -> None:
        response = self.call("GET", "/ready")
        if response.status_code != 200:
            raise ReplayError(f"the lab server at {self.url} is not ready: {_detail(response)}")

    def predict(self, records: list[dict]) -> tuple[list[str] | None, str | None]:
        """Prediction ids, or None and the server's reason when it refused the batch (422)."""
        response = self.call("POST", "/predict", json=records)
        if response.status_code == 200:
            return [p["prediction_id"] for p in response.json()["predictions"]], None
        if response.status_code == 422:
            return None, _detail(response)
        raise ReplayError(
            f"the lab server at {self.url} answered /predict with {response.status_code}: {_detail(response)}"
        )

    def feedback(self, prediction_id: str, churned: int) -> str | None:
        """None if recorded, else the server's reason."""
        response = self.call("POST", "/feedback", json={"prediction_id": prediction_id, "churned": churned})
        return None if response.status_code == 200 else f"{response.status_code} {_detail(response)}"

    def close(self) -> None:
        self.http.close()


def _records(frame) -> list[dict]:
    """JSON-ready records of the features exactly as sent: NaN becomes null, absent columns absent."""
    return json.loads(frame.drop(columns=["day", TARGET]).to_json(orient="records"))


def replay(
    url: str,
    scenario: str = "sudden",
    days: int = 30,
    n_per_day: int = 500,
    seed: int = 0,
    onset: int = 10,
    label_lag_days: int = 3,
    label_coverage: float = 0.5,
    batch_size: int = 100,
    concurrency: int = 8,
    progress: bool = True,
    timeout: float = 30.0,
) -> ReplaySummary:
    """Replay ``days`` days of ``scenario`` traffic (``n_per_day`` records a day) to the lab server at
    ``url``; at the end of day ``d`` the labels of day ``d - label_lag_days`` arrive, for a
    ``label_coverage`` share of its accepted predictions (``concurrency`` requests at a time).

    Returns a :class:`ReplaySummary` (``.table()`` per day, ``.prediction_ids``); raises
    :class:`ReplayError` if no server answers at ``url`` or it fails, ``ValueError`` for bad arguments.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    for name, value, low in [
        ("days", days, 1),
        ("n_per_day", n_per_day, 1),
        ("batch_size", batch_size, 1),
        ("concurrency", concurrency, 1),
        ("label_lag_days", label_lag_days, 0),
    ]:
        if int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not 0 <= label_coverage <= 1:
        raise ValueError(f"label_coverage must be between 0 and 1, got {label_coverage!r}")
    from tqdm.auto import tqdm

    summary = ReplaySummary(url=url.rstrip("/"), scenario=scenario)
    client = _Client(url, timeout)
    try:
        client.check_ready()
    except ReplayError:
        client.close()
        raise
    labels: dict[int, list[tuple[str, int]]] = {}  # day -> (prediction id, true label) to send
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="opslab-traffic")
    bar = tqdm(total=days, unit="day", desc=f"{scenario} traffic", disable=not progress)
    try:
        for day in range(days):
            frame = production_day(day, scenario, n_per_day, seed, onset, days)
            records, truth = _records(frame), frame[TARGET].to_numpy()
            stats = DaySummary(day)
            ids: list[str | None] = []
            for start in range(0, len(records), batch_size):
                batch = records[start : start + batch_size]
                answer, reason = client.predict(batch)
                stats.sent += len(batch)
                if answer is None:
                    stats.refused += len(batch)
                    ids += [None] * len(batch)
                    if len(summary.refusals) < 20:
                        summary.refusals.append(f"day {day}: {reason}")
                else:
                    stats.accepted += len(answer)
                    ids += answer
            summary.prediction_ids[day] = ids
            chosen = label_selection(day, len(records), label_coverage, seed)
            labels[day] = [(pid, int(y)) for pid, y, c in zip(ids, truth, chosen, strict=True) if c and pid is not None]
            due = labels.pop(day - label_lag_days, [])
            for reason in pool.map(lambda item: client.feedback(*item), due):
                if reason is None:
                    stats.labels_sent += 1
                else:
                    stats.labels_refused += 1
                    if len(summary.refusals) < 20:
                        summary.refusals.append(f"day {day} feedback: {reason}")
            summary.days.append(stats)
            bar.set_postfix(
                predicted=summary.total("accepted"),
                refused=summary.total("refused"),
                labels=summary.total("labels_sent"),
                refresh=False,
            )
            bar.update(1)
        summary.labels_pending = sum(len(v) for v in labels.values())
    finally:
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)
        client.close()
    return summary

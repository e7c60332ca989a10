"""Drift and model-quality signals for ``/metrics``, computed at scrape time from the prediction log.

Every worker writes its predictions and the feedback it receives to the one SQLite log, so a
statistic computed from the log's newest rows is the same whichever worker is scraped. That is why
the windowed signals live here and not in per-process memory:

- ``opslab_feature_psi{feature}``: population stability index of each feature over the newest
  ``window`` logged predictions against the training reference (``make_customers(seed=0)``), once the
  window holds at least ``min_records``. Numeric features are binned on the reference's deciles
  (tied deciles merged), categorical ones by category.
- ``opslab_drift_window_records``: how many records the window holds.
- ``opslab_feedback_auc``, ``opslab_feedback_accuracy``: over the newest ``feedback_window``
  predictions that have a true label (newest by prediction time), once there are ``min_labels`` of them
  with both classes present; ``opslab_feedback_labelled_records`` counts them.

It also maps /predict's validation errors to the problems ``opslab_input_problems_total`` counts.
The scrape costs a few milliseconds (two indexed queries, 500 JSON rows, numpy), whatever the size
of the log: the drift window is read backwards from the newest rowid, the feedback window from a
partial index of the labelled rows. Nothing is added to the prediction path.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from prometheus_client.core import GaugeMetricFamily

from opslab.data import CATEGORICAL_FEATURES, CATEGORIES, FEATURES, NUMERIC_FEATURES

PSI_FLOOR = 1e-4  # a bin's share is at least this, so an empty bin adds a large but finite term


@dataclass(frozen=True)
class DriftSettings:
    window: int = 500
    min_records: int = 100
    feedback_window: int = 500
    min_labels: int = 50


class Reference:
    """The training reference, binned once: decile edges of each numeric feature, the share of the
    reference in each bin, and the share of each category."""

    def __init__(self, frame):
        self.edges: dict[str, np.ndarray] = {}
        self.shares: dict[str, np.ndarray] = {}
        for feature in NUMERIC_FEATURES:
            values = frame[feature].to_numpy(dtype=float)
            edges = np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9)))
            self.edges[feature] = edges
            self.shares[feature] = self._shares(np.searchsorted(edges, values, side="left"), len(edges) + 1)
        for feature in CATEGORICAL_FEATURES:
            codes = frame[feature].map({c: i for i, c in enumerate(CATEGORIES[feature])}).to_numpy()
            self.shares[feature] = self._shares(codes, len(CATEGORIES[feature]))

    @staticmethod
    def _shares(bins: np.ndarray, n: int) -> np.ndarray:
        return np.maximum(np.bincount(bins, minlength=n)[:n] / max(len(bins), 1), PSI_FLOOR)

    def psi(self, records: list[dict]) -> dict[str, float]:
        """PSI of every feature of ``records`` (validated records: all twelve features present)."""
        numeric = np.array([[r[f] for f in NUMERIC_FEATURES] for r in records], dtype=float)
        out = {}
        for j, feature in enumerate(NUMERIC_FEATURES):
            edges = self.edges[feature]
            out[feature] = _psi(
                self.shares[feature], self._shares(np.searchsorted(edges, numeric[:, j]), len(edges) + 1)
            )
        for feature in CATEGORICAL_FEATURES:
            index = {c: i for i, c in enumerate(CATEGORIES[feature])}
            codes = np.array([index.get(r[feature], 0) for r in records])
            out[feature] = _psi(self.shares[feature], self._shares(codes, len(index)))
        return out


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@functools.cache
def training_reference() -> Reference:
    from opslab.data import make_customers

    return Reference(make_customers(seed=0))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half), for labels with both classes."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    ranks = (upper - (counts - 1) / 2.0)[inverse]  # average rank of each group of tied scores
    positives = int(labels.sum())
    negatives = len(labels) - positives
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


class DriftMonitor:
    """A Prometheus collector reading the shared prediction log (its own read-only connection)."""

    def __init__(self, db_path: str | Path, settings: DriftSettings = DriftSettings()):
        self.db_path, self.settings = Path(db_path), settings
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        with self._lock:
            if self._db is None:
                if not self.db_path.exists():
                    return []
                uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10)
            return self._db.execute(sql, params).fetchall()

    def window(self) -> list[dict]:
        rows = self._query("SELECT inputs FROM predictions ORDER BY rowid DESC LIMIT ?", (self.settings.window,))
        return [json.loads(inputs) for (inputs,) in rows]

    def labelled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(true label, served class, probability) of the newest labelled predictions."""
        rows = self._query(
            "SELECT feedback, churned, probability FROM predictions WHERE feedback IS NOT NULL "
            "ORDER BY timestamp DESC LIMIT ?",  # from the labelled_by_time index: no table scan
            (self.settings.feedback_window,),
        )
        data = np.array(rows, dtype=float).reshape(-1, 3)
        return data[:, 0].astype(int), data[:, 1].astype(int), data[:, 2]

    def collect(self):
        settings = self.settings
        records = self.window()
        size = GaugeMetricFamily(
            "opslab_drift_window_records", "records in the drift window (the newest logged predictions)"
        )
        size.add_metric([], len(records))
        yield size
        psi = GaugeMetricFamily(
            "opslab_feature_psi",
            f"population stability index of each feature over the newest {settings.window} predictions "
            "against the training reference (absent below "
            f"{settings.min_records} records; < 0.1 stable, 0.1-0.25 moderate, > 0.25 major drift)",
            labels=["feature"],
        )
        if len(records) >= settings.min_records:
            for feature, value in training_reference().psi(records).items():
                psi.add_metric([feature], value)
        yield psi
        truth, served, probability = self.labelled()
        labelled = GaugeMetricFamily("opslab_feedback_labelled_records", "labelled predictions in the feedback window")
        labelled.add_metric([], len(truth))
        yield labelled
        auc = GaugeMetricFamily(
            "opslab_feedback_auc",
            f"ROC AUC of the served probabilities on the newest {settings.feedback_window} labelled predictions",
        )
        accuracy = GaugeMetricFamily(
            "opslab_feedback_accuracy",
            f"accuracy of the served classes on the newest {settings.feedback_window} labelled predictions",
        )
        if len(truth) >= settings.min_labels and 0 < truth.sum() < len(truth):
            auc.add_metric([], roc_auc(truth, probability))
            accuracy.add_metric([], float(np.mean(truth == served)))
        yield auc
        yield accuracy

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


# ---- input problems: /predict's 422 details as (feature, problem) counts ----

MAX_UNKNOWN_FIELDS = 20  # distinct unknown field names kept as label values per process; then "other"
_unknown_seen: set[str] = set()


def _problem(entry: dict) -> str:
    kind = str(entry.get("type", ""))
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        return "unknown_field"
    if "input" in entry and entry["input"] is None:
        return "null"
    if kind == "literal_error" or kind == "enum":
        return "unknown_category" if isinstance(entry.get("input"), str) else "wrong_type"
    if kind in ("finite_number", "out_of_range") or kind.startswith(("greater_than", "less_than")):
        return "out_of_range"
    return "wrong_type"


def _feature(entry: dict, problem: str) -> str:
    field = entry.get("field")
    if not field:
        return "record"  # a batch item that is not an object at all
    if field in FEATURES or problem != "unknown_field":
        return field
    if field in _unknown_seen or len(_unknown_seen) < MAX_UNKNOWN_FIELDS:
        _unknown_seen.add(field)
        return field[:40]
    return "other"  # a client must not be able to create unbounded label values


def input_problems(details) -> dict[tuple[str, str], int]:
    """``{(feature, problem): count}`` from the error entries of a refused /predict body."""
    counts: dict[tuple[str, str], int] = {}
    if not isinstance(details, list):
        return counts
    for entry in details:
        if isinstance(entry, dict):
            problem = _problem(entry)
            key = (_feature(entry, problem), problem)
            counts[key] = counts.get(key, 0) + 1
    return counts

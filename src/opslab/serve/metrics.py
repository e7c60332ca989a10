"""Prometheus metrics of one app that stay right with ``opslab serve --workers N``.

Two kinds of state, two homes:

- **Counters and histograms** (requests, latency, predictions, probability, feedback, refused input
  values, reloads) are written by each process to its own memory-mapped files in the app's metrics
  folder, in the file format of prometheus_client's multiprocess mode, and every scrape merges the
  files of all processes with its ``MultiProcessCollector``. So whichever worker answers ``/metrics``
  reports every worker's counts. There are no live gauges, so no worker ever has to be marked dead.
- **Windowed statistics** (feature drift, rolling feedback AUC) are computed at scrape time from the
  prediction log that all workers share (:mod:`opslab.serve.drift`), so they are the same whichever
  worker answers.

The app writes through its own :class:`MetricFiles` (a folder per app) rather than setting
``PROMETHEUS_MULTIPROC_DIR``: that variable switches every metric of the whole process, including a
notebook's own, and cannot give two apps in one process (tests, notebooks) separate counts.
With one worker the code path is the same.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from bisect import bisect_left
from pathlib import Path

import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROBABILITY_BUCKETS = tuple(i / 10 for i in range(1, 11))
PENDING = "opslab.metrics"  # the scope key under which an endpoint hands its observations to the middleware
PROBLEMS = ("missing", "null", "wrong_type", "out_of_range", "unknown_category", "unknown_field")


def reset_metrics_dir(path: str | Path) -> Path:
    """Empty (or create) a server's metrics folder. ``opslab serve`` calls it once, before uvicorn
    starts any worker: files left by an earlier run would otherwise be counted again."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


class MetricFiles:
    """This process's value files in one metrics folder (``counter_PID.db``, ``histogram_PID.db``),
    opened on first use and reopened under the new pid after a fork."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()  # MmapedDict is not thread-safe (sync endpoints run in threads)
        self._files: dict[str, MmapedDict] = {}
        self._pid = os.getpid()

    def _file(self, kind: str, forked_checked: bool = False) -> MmapedDict:
        if not forked_checked and os.getpid() != self._pid:  # forked: never write into the parent's file
            self._files, self._pid = {}, os.getpid()
        file = self._files.get(kind)
        if file is None:
            file = self._files[kind] = MmapedDict(str(self.path / f"{kind}_{self._pid}.db"))
        return file

    def add(self, kind: str, items: list[tuple[str, float]]) -> None:
        """Add each amount to its key's value, under one lock."""
        self.add_all({kind: items})

    def add_all(self, items_by_kind: dict[str, list[tuple[str, float]]]) -> None:
        """Several files' additions under one lock (a request's whole update)."""
        with self._lock:
            if os.getpid() != self._pid:  # forked: never write into the parent's file (checked once)
                self._files, self._pid = {}, os.getpid()
            for kind, items in items_by_kind.items():
                file = self._file(kind, forked_checked=True)
                for key, amount in items:
                    value, _ = file.read_value(key)
                    file.write_value(key, value + amount, 0.0)

    def close(self) -> None:
        with self._lock:
            for file in self._files.values():
                file.close()
            self._files = {}


class SharedCounter:
    """A counter with labels whose value is the sum over every process writing to ``files``."""

    def __init__(self, files: MetricFiles, name: str, documentation: str, labelnames: tuple[str, ...] = ()):
        self.files, self.name, self.documentation, self.labelnames = files, name, documentation, labelnames
        self._keys: dict[tuple, str] = {}

    def key(self, labelvalues: tuple) -> str:
        key = self._keys.get(labelvalues)
        if key is None:
            if len(labelvalues) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {labelvalues}")
            key = mmap_key(self.name, self.name + "_total", self.labelnames, labelvalues, self.documentation)
            self._keys[labelvalues] = key
        return key

    def inc(self, *labelvalues: str, amount: float = 1.0) -> None:
        self.files.add("counter", [(self.key(labelvalues), amount)])

    def inc_many(self, amounts: dict[tuple, float]) -> None:
        """Several label sets at once (one lock, one call)."""
        self.files.add("counter", self.items(amounts))

    def items(self, amounts: dict[tuple, float]) -> list[tuple[str, float]]:
        """What ``inc_many(amounts)`` adds, for :meth:`MetricFiles.add_all`."""
        return [(self.key(labels), n) for labels, n in amounts.items()]


class SharedHistogram:
    """A histogram whose buckets and sum add up over every process; ``observe_many`` takes a whole
    batch of values with one ``searchsorted`` instead of one call per value."""

    def __init__(
        self,
        files: MetricFiles,
        name: str,
        documentation: str,
        buckets: tuple[float, ...],
        labelnames: tuple[str, ...] = (),
    ):
        self.files, self.name, self.documentation, self.labelnames = files, name, documentation, labelnames
        self.bounds = np.array([*buckets, float("inf")])
        self.bound_list = self.bounds.tolist()
        self._keys: dict[tuple, tuple[list[str], str]] = {}

    def _keys_for(self, labelvalues: tuple) -> tuple[list[str], str]:
        keys = self._keys.get(labelvalues)
        if keys is None:
            names = [*self.labelnames, "le"]
            buckets = [
                mmap_key(
                    self.name, self.name + "_bucket", names, [*labelvalues, floatToGoString(b)], self.documentation
                )
                for b in self.bounds
            ]
            total = mmap_key(self.name, self.name + "_sum", self.labelnames, labelvalues, self.documentation)
            keys = self._keys[labelvalues] = (buckets, total)
            self.files.add("histogram", [(key, 0.0) for key in [*buckets, total]])  # every bucket, +Inf too
        return keys

    def observe(self, value: float, *labelvalues: str) -> None:
        buckets, total = self._keys_for(labelvalues)
        index = int(np.searchsorted(self.bounds, value, side="left"))  # first bound >= value
        self.files.add("histogram", [(buckets[index], 1.0), (total, float(value))])

    def observe_many(self, values, *labelvalues: str) -> None:
        items = self.items(values, *labelvalues)
        if items:
            self.files.add("histogram", items)

    def items(self, values, *labelvalues: str) -> list[tuple[str, float]]:
        """What ``observe_many(values)`` adds, for :meth:`MetricFiles.add_all`."""
        if len(values) <= 8:  # a request's latency, a single record's probability: plain Python is faster
            values = [float(v) for v in values]
            if not values:
                return []
            buckets, total = self._keys_for(labelvalues)
            counts: dict[int, float] = {}
            for v in values:
                i = bisect_left(self.bound_list, v) if v == v else len(self.bound_list) - 1  # NaN: +Inf, as numpy
                counts[i] = counts.get(i, 0.0) + 1.0
            return [*((buckets[i], n) for i, n in counts.items()), (total, sum(values))]
        values = np.asarray(values, dtype=float)
        buckets, total = self._keys_for(labelvalues)
        counts = np.bincount(np.searchsorted(self.bounds, values, side="left"), minlength=len(self.bounds))
        return [*((buckets[i], float(n)) for i, n in enumerate(counts) if n), (total, float(values.sum()))]


class ServerMetrics:
    """The app's metrics. ``path``: the server's metrics folder, shared by its workers (``opslab
    serve`` empties it before they start); ``None`` gives this app a private temporary folder.
    ``collectors``: more collectors to add at every scrape (the drift monitor)."""

    def __init__(self, path: str | Path | None = None, collectors: list | None = None):
        self._tmp = None
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="opslab-metrics-")
            path = self._tmp.name
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.collectors = list(collectors or [])
        files = self.files = MetricFiles(self.path)
        self.requests = SharedCounter(
            files, "opslab_requests", "HTTP requests by endpoint, method and status", ("endpoint", "method", "status")
        )
        self.latency = SharedHistogram(
            files,
            "opslab_request_latency_seconds",
            "time to answer a request, by endpoint",
            LATENCY_BUCKETS,
            ("endpoint",),
        )
        self.predictions = SharedCounter(
            files,
            "opslab_predictions",
            "predictions by predicted class and model version",
            ("churned", "model_version"),
        )
        self.probability = SharedHistogram(
            files, "opslab_prediction_probability", "predicted P(churn)", PROBABILITY_BUCKETS
        )
        self.feedback = SharedCounter(files, "opslab_feedback", "true labels received through /feedback", ("churned",))
        self.input_problems = SharedCounter(
            files,
            "opslab_input_problems",
            "input values /predict refused, by field and problem "
            "(missing, null, wrong_type, out_of_range, unknown_category, unknown_field)",
            ("feature", "problem"),
        )
        self.model_reloads = SharedCounter(files, "opslab_model_reloads", "successful model reloads")
        self.model_reloads.inc(amount=0.0)  # present (at 0) from the start

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float,
                        more: list | None = None) -> None:
        """Count and time one request, with ``more`` (what its endpoint observed, as
        ``(kind, items)`` pairs), in one update of the metric files."""
        update = {
            "counter": [(self.requests.key((endpoint, method, str(status))), 1.0)],
            "histogram": self.latency.items([seconds], endpoint),
        }
        for kind, items in more or ():
            update[kind] = update[kind] + items
        self.files.add_all(update)

    def observe_predictions(self, batch, churned, probabilities, model_version: str, scope=None) -> None:
        """Count a request's predictions. With the request's ASGI ``scope``, they are handed to
        :class:`MetricsMiddleware`, which writes them with the request's own counts in one update."""
        positives = int(churned.sum()) if isinstance(churned, np.ndarray) else int(sum(churned))
        counts = {("1", model_version): positives, ("0", model_version): len(batch) - positives}
        items = [
            ("counter", self.predictions.items({labels: n for labels, n in counts.items() if n})),
            ("histogram", self.probability.items(probabilities)),
        ]
        pending = scope.get(PENDING) if scope is not None else None
        if pending is not None:
            pending.extend(items)
        else:
            self.files.add_all(dict(items))

    def observe_feedback(self, churned: int) -> None:
        self.feedback.inc(str(churned))

    def observe_problems(self, problems: dict[tuple[str, str], int]) -> None:
        """Count refused values: ``{(feature, problem): n}`` (see :func:`opslab.serve.drift.input_problems`)."""
        if problems:
            self.input_problems.inc_many(problems)

    def render(self) -> tuple[bytes, str]:
        """The scrape: every process's counters merged, plus the extra collectors, in text format."""
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=str(self.path))
        for collector in self.collectors:
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        self.files.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def route_path(scope) -> str:
    """The request's path inside this app: mounted under a prefix (the Space mounts the lab server at
    /api), ``scope["path"]`` keeps the prefix and ``root_path`` names it."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root):] or "/" if root and path.startswith(root) else path


class MetricsMiddleware:
    """ASGI middleware: count and time every HTTP request, labelled by route (unknown paths: "other")."""

    def __init__(self, app, metrics: ServerMetrics, endpoints: set[str]):
        self.app, self.metrics, self.endpoints = app, metrics, endpoints

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500
        scope[PENDING] = more = []  # filled by the endpoint (observe_predictions), written below with the rest

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = route_path(scope)
            endpoint = path if path in self.endpoints else "other"
            self.metrics.observe_request(endpoint, scope["method"], status, time.perf_counter() - started, more)

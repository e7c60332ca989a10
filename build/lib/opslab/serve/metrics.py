"""Prometheus metrics of one app (its own registry): traffic, latency, answers and input values."""

from __future__ import annotations

import threading
import time

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from opslab.data import CATEGORICAL_FEATURES, CATEGORIES, NUMERIC_FEATURES

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class FeatureStats:
    """Running count, sum and sum of squares of each numeric feature and counts of each category,
    updated once per request with numpy and exported at scrape time (cheaper than one
    ``observe`` per value: a batch of 100 records would be 1,200 calls)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0
        self.sums = np.zeros(len(NUMERIC_FEATURES))
        self.squares = np.zeros(len(NUMERIC_FEATURES))
        self.categories = {(f, v): 0 for f in CATEGORICAL_FEATURES for v in CATEGORIES[f]}

    def add(self, records: list[dict]) -> None:
        values = np.array([[r[f] for f in NUMERIC_FEATURES] for r in records], dtype=float)
        seen = [(f, r[f]) for r in records for f in CATEGORICAL_FEATURES]
        with self._lock:
            self.count += len(records)
            self.sums += values.sum(axis=0)
            self.squares += (values**2).sum(axis=0)
            for key in seen:
                self.categories[key] = self.categories.get(key, 0) + 1

    def collect(self):
        with self._lock:
            count, sums, squares = self.count, self.sums.copy(), self.squares.copy()
            categories = dict(self.categories)
        summary = SummaryMetricFamily(
            "opslab_feature_value",
            "values of numeric input features (mean = sum / count)",
            labels=["feature"],
        )
        for feature, total in zip(NUMERIC_FEATURES, sums):
            summary.add_metric([feature], count_value=count, sum_value=float(total))
        yield summary
        squared = GaugeMetricFamily(
            "opslab_feature_value_squares",
            "sum of squared values of numeric input features (for the variance)",
            labels=["feature"],
        )
        for feature, total in zip(NUMERIC_FEATURES, squares):
            squared.add_metric([feature], float(total))
        yield squared
        counts = CounterMetricFamily(
            "opslab_feature_category", "values of categorical input features", labels=["feature", "value"]
        )
        for (feature, value), n in categories.items():
            counts.add_metric([feature, value], n)
        yield counts


class ServerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "opslab_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "opslab_request_latency_seconds",
            "time to answer a request, by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "opslab_predictions",
            "predictions by predicted class and model version",
            ["churned", "model_version"],
            registry=self.registry,
        )
        self.probability = Histogram(
            "opslab_prediction_probability",
            "predicted P(churn)",
            buckets=[i / 10 for i in range(1, 11)],
            registry=self.registry,
        )
        self.features = FeatureStats()
        self.registry.register(self.features)
        self.feedback = Counter(
            "opslab_feedback", "true labels received through /feedback", ["churned"], registry=self.registry
        )
        self.model_reloads = Counter(
            "opslab_model_reloads", "successful model reloads", registry=self.registry
        )

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_predictions(self, records: list[dict], churned, probabilities, model_version: str) -> None:
        positives = int(sum(churned))
        if positives:
            self.predictions.labels("1", model_version).inc(positives)
        if len(records) - positives:
            self.predictions.labels("0", model_version).inc(len(records) - positives)
        for p in probabilities:
            self.probability.observe(float(p))
        self.features.add(records)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """ASGI middleware: count and time every HTTP request, labelled by route (unknown paths: "other")."""

    def __init__(self, app, metrics: ServerMetrics, endpoints: set[str]):
        self.app, self.metrics, self.endpoints = app, metrics, endpoints

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = scope["path"]
            endpoint = path if path in self.endpoints else "other"
            self.metrics.observe_request(endpoint, scope["method"], status, time.perf_counter() - started)

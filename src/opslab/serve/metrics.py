"""Prometheus metrics of one app (its own registry): traffic, latency, answers and input values."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, Summary, generate_latest

from opslab.data import CATEGORICAL_FEATURES, CATEGORIES, NUMERIC_FEATURES

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("opslab_requests", "HTTP requests by endpoint, method and status",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("opslab_request_latency_seconds", "time to answer a request, by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("opslab_predictions", "predictions by predicted class and model version",
                                   ["churned", "model_version"], registry=self.registry)
        self.probability = Histogram("opslab_prediction_probability", "predicted P(churn)",
                                     buckets=[i / 10 for i in range(1, 11)], registry=self.registry)
        self.feature_value = Summary("opslab_feature_value", "values of numeric input features (sum/count)",
                                     ["feature"], registry=self.registry)
        self.feature_category = Counter("opslab_feature_category", "values of categorical input features",
                                        ["feature", "value"], registry=self.registry)
        self.feedback = Counter("opslab_feedback", "true labels received through /feedback", ["churned"],
                                registry=self.registry)
        self.model_reloads = Counter("opslab_model_reloads", "successful model reloads", registry=self.registry)
        # label children looked up once, not per request
        self._numeric = [(f, self.feature_value.labels(f)) for f in NUMERIC_FEATURES]
        self._categories = {(f, v): self.feature_category.labels(f, v) for f in CATEGORICAL_FEATURES
                            for v in CATEGORIES[f]}

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
        for record in records:
            for feature, child in self._numeric:
                child.observe(record[feature])
            for feature in CATEGORICAL_FEATURES:
                self._categories[(feature, record[feature])].inc()

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

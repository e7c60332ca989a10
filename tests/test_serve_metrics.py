"""The lab server's metrics module alone: shared counter files, input problems, PSI and AUC."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from opslab.data import FEATURES, make_customers, production_day
from opslab.serve.drift import DriftMonitor, DriftSettings, input_problems, roc_auc, training_reference
from opslab.serve.metrics import PROBABILITY_BUCKETS, ServerMetrics, reset_metrics_dir
from opslab.serve.prediction_log import PredictionLog


def samples(text: str) -> dict[tuple, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _count_in_child(path, n):
    metrics = ServerMetrics(path)
    for _ in range(n):
        metrics.observe_request("/predict", "POST", 200, 0.003)
    metrics.observe_predictions([{}] * n, [1] * n, [0.7] * n, "1")


def test_counts_of_other_processes_are_merged_into_every_scrape(tmp_path):
    path = reset_metrics_dir(tmp_path / "metrics")
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_count_in_child, args=(str(path), n)) for n in (3, 4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    here = ServerMetrics(path)
    here.observe_request("/predict", "POST", 200, 0.5)
    values = samples(here.render()[0].decode())
    key = (("endpoint", "/predict"), ("method", "POST"), ("status", "200"))
    assert values[("opslab_requests_total", key)] == 8
    assert values[("opslab_predictions_total", (("churned", "1"), ("model_version", "1")))] == 7
    assert values[("opslab_request_latency_seconds_count", (("endpoint", "/predict"),))] == 8
    assert len(list(path.glob("counter_*.db"))) == 3  # one file per process
    assert reset_metrics_dir(path) == path and not list(path.iterdir())


def test_batch_histogram_matches_prometheus_client(tmp_path):
    values = np.r_[np.random.default_rng(0).random(500), [0.1, 0.2, 1.0, 0.0]]
    ours = ServerMetrics(tmp_path)
    ours.observe_predictions([{}] * len(values), values >= 0.5, values, "1")
    registry = CollectorRegistry()
    theirs = Histogram(
        "opslab_prediction_probability", "predicted P(churn)", buckets=PROBABILITY_BUCKETS, registry=registry
    )
    for v in values:
        theirs.observe(v)

    def histogram(text):
        return {
            k: v
            for k, v in samples(text).items()
            if k[0].startswith("opslab_prediction_probability") and not k[0].endswith("_created")
        }

    ours_h, theirs_h = histogram(ours.render()[0].decode()), histogram(generate_latest(registry).decode())
    assert ours_h.keys() == theirs_h.keys()
    for key, value in theirs_h.items():
        assert ours_h[key] == pytest.approx(value)


def test_apps_in_one_process_keep_separate_counts(tmp_path):
    first, second = ServerMetrics(), ServerMetrics()
    first.observe_feedback(1)
    assert b'opslab_feedback_total{churned="1"} 1.0' in first.render()[0]
    assert b"opslab_feedback_total" not in second.render()[0]
    path = first.path
    first.close()
    assert not path.exists()  # a private folder goes with its app


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"type": "missing", "field": "age"}, ("age", "missing")),
        ({"type": "float_type", "field": "age", "input": None}, ("age", "null")),
        ({"type": "literal_error", "field": "plan", "input": None}, ("plan", "null")),
        ({"type": "float_type", "field": "age", "input": "42"}, ("age", "wrong_type")),
        ({"type": "literal_error", "field": "plan", "input": "gold"}, ("plan", "unknown_category")),
        ({"type": "literal_error", "field": "plan", "input": 3}, ("plan", "wrong_type")),
        ({"type": "finite_number", "field": "age", "input": "nan"}, ("age", "out_of_range")),
        ({"type": "less_than_equal", "field": "age", "input": 400}, ("age", "out_of_range")),
        ({"type": "extra_forbidden", "field": "tenure", "input": 3}, ("tenure", "unknown_field")),
        ({"type": "model_type", "field": None, "input": 3}, ("record", "wrong_type")),
    ],
)
def test_validation_errors_map_to_problems(entry, expected):
    assert input_problems([entry, entry]) == {expected: 2}


def test_unknown_field_names_cannot_grow_without_bound():
    names = {key[0] for i in range(100) for key in input_problems([{"type": "extra_forbidden", "field": f"x{i}"}])}
    assert "other" in names and len(names) <= 21


def test_psi_is_small_for_the_training_world_and_large_after_a_price_shift():
    reference = training_reference()

    def records(frame):
        return frame[FEATURES].to_dict("records")

    same = reference.psi(records(make_customers(n=500, seed=7)))
    assert max(same.values()) < 0.1
    shifted = reference.psi(records(production_day(20, "sudden", n=500)))
    assert shifted["monthly_charges"] > 0.25 and shifted["region"] > 0.1
    assert shifted["age"] < 0.1  # what did not move stays put


def test_auc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * labels, 1)  # many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_drift_monitor_windows_and_thresholds(tmp_path):
    log = PredictionLog(tmp_path / "predictions.db")
    monitor = DriftMonitor(
        tmp_path / "predictions.db", DriftSettings(window=50, min_records=40, feedback_window=30, min_labels=20)
    )
    frame = make_customers(n=60, seed=5)
    rows = [
        (f"{i:032x}", "t", "m", "1", r, int(p >= 0.5), float(p))
        for i, (r, p) in enumerate(zip(frame[FEATURES].to_dict("records"), np.linspace(0, 1, 60)))
    ]
    log.record(rows[:30])
    metrics = ServerMetrics(tmp_path / "metrics", [monitor])
    first = samples(metrics.render()[0].decode())
    assert first[("opslab_drift_window_records", ())] == 30
    assert not any(name == "opslab_feature_psi" for name, _ in first)  # under min_records: absent
    log.record(rows[30:])
    for i in range(25):
        log.add_feedback(f"{i:032x}", i % 2)
    second = samples(metrics.render()[0].decode())
    assert second[("opslab_drift_window_records", ())] == 50
    assert len([1 for name, _ in second if name == "opslab_feature_psi"]) == 12
    assert second[("opslab_feedback_labelled_records", ())] == 25
    truth = np.arange(25) % 2
    assert second[("opslab_feedback_accuracy", ())] == pytest.approx(
        np.mean(truth == (np.linspace(0, 1, 60)[:25] >= 0.5))
    )
    assert ("opslab_feedback_auc", ()) in second
    log.close()
    monitor.close()

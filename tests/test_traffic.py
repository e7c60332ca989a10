"""``opslab traffic`` against a real lab server: each scenario shows up in /metrics as it should."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from opslab.background import free_port
from opslab.cli import main
from opslab.serve.process import LabServer
from opslab.traffic import ReplayError, replay
from opslab.traffic.replay import label_selection
from serve_support import ensure_champion

# small enough to run in seconds; the newest 500 records and 500 labels still come from one replay
RUN = {"days": 16, "n_per_day": 250, "onset": 4, "label_lag_days": 2, "label_coverage": 0.8, "progress": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ensure_champion()
    with LabServer(data_dir=tmp_path_factory.mktemp("traffic"), timeout=300) as lab:
        yield lab.url


def scrape(url: str) -> dict[tuple, float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def psi(values: dict) -> dict[str, float]:
    return {dict(labels)["feature"]: v for (name, labels), v in values.items() if name == "opslab_feature_psi"}


def problems(values: dict) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["feature"], dict(labels)["problem"]): v
        for (name, labels), v in values.items()
        if name == "opslab_input_problems_total"
    }


def test_no_drift_stays_below_the_stable_threshold(server):
    summary = replay(server, "none", **RUN)
    assert summary.total("accepted") == 16 * 250 and summary.total("refused") == 0
    values = scrape(server)
    assert values[("opslab_drift_window_records", ())] == 500
    assert len(psi(values)) == 12 and max(psi(values).values()) < 0.1


@pytest.mark.parametrize("scenario", ["sudden", "gradual"])
def test_covariate_drift_is_major_drift_in_monthly_charges(server, scenario):
    replay(server, scenario, **RUN)
    drift = psi(scrape(server))
    assert drift["monthly_charges"] > 0.25  # both scenarios raise prices
    assert drift["avg_session_minutes"] < 0.1  # a feature neither scenario moves


def test_quality_incidents_are_refused_and_counted(server):
    before = problems(scrape(server))
    summary = replay(server, "quality", **RUN)
    after = problems(scrape(server))
    table = summary.table()
    assert (table.loc[:3, "refused"] == 0).all() and table.loc[4, "refused"] == 250  # half the charges null
    assert summary.refusals and "monthly_charges" in summary.refusals[0]
    grew = {key for key, value in after.items() if value > before.get(key, 0)}
    assert {
        ("monthly_charges", "null"),
        ("tenure_months", "missing"),
        ("tenure", "unknown_field"),
        ("days_since_last_login", "missing"),
    } <= grew
    nulls = after[("monthly_charges", "null")] - before.get(("monthly_charges", "null"), 0)
    assert nulls > 50  # every refused null is counted, not only the 50 a 422 shows


def test_concept_drift_lowers_feedback_auc_but_not_feature_drift(server):
    replay(server, "none", **RUN)
    calm = scrape(server)
    summary = replay(server, "concept", **RUN)
    changed = scrape(server)
    assert summary.total("labels_sent") > 500 and summary.labels_pending > 0  # the last days' labels are late
    assert changed[("opslab_feedback_labelled_records", ())] == 500
    assert changed[("opslab_feedback_auc", ())] < calm[("opslab_feedback_auc", ())] - 0.05
    assert max(psi(changed).values()) < 0.1  # the inputs look as they always did


def test_the_same_seed_sends_the_same_traffic_and_labels(server):
    first = replay(server, "quality", days=6, n_per_day=40, onset=3, label_lag_days=1, progress=False)
    second = replay(server, "quality", days=6, n_per_day=40, onset=3, label_lag_days=1, progress=False)
    assert first.table().equals(second.table())
    assert np.array_equal(label_selection(5, 100, 0.3, seed=1), label_selection(5, 100, 0.3, seed=1))
    assert not np.array_equal(label_selection(5, 100, 0.3, seed=1), label_selection(5, 100, 0.3, seed=2))


def test_a_dead_server_is_a_one_line_error(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ReplayError, match=f"no lab server answers at {url}"):
        replay(url, days=1, progress=False)
    assert main(["traffic", "--url", url, "--days", "2", "--no-progress"]) == 2
    out = capsys.readouterr().out.strip()
    assert out.startswith("opslab traffic: no lab server answers at") and "\n" not in out
    with pytest.raises(ValueError, match="unknown scenario"):
        replay(url, scenario="chaos")

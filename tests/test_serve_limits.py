"""The lab server's limits on input values: integers too long for Python, the feature ranges of
``opslab.data.FEATURE_LIMITS``, and metrics that no accepted input can make infinite or NaN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from opslab.data import (
    EXAMPLE_RECORD,
    FEATURE_LIMITS,
    FEATURES,
    NUMERIC_FEATURES,
    make_customers,
    make_traffic,
)
from opslab.registry import champion_uri
from opslab.serve.app import ServeSettings, create_app
from serve_support import AUTH, TOKEN, ensure_champion

JSON = {"content-type": "application/json"}
HUGE = "9" * 5001  # over Python's 4,300-digit limit for int(str)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    ensure_champion()
    settings = ServeSettings(
        model_uri=champion_uri(),
        data_dir=tmp_path_factory.mktemp("serve-limits"),
        admin_token=TOKEN,
        max_batch=1000,
        max_body_bytes=2_000_000,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _raw(record: dict, field: str, literal: str) -> str:
    """``record`` as JSON text with ``field``'s value replaced by the JSON text ``literal``."""
    body = json.dumps({**record, field: "PLACEHOLDER"})
    return body.replace('"PLACEHOLDER"', literal)


def metric_values(text: str) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    }


@pytest.mark.parametrize("field", ["age", "monthly_charges", "plan"])
@pytest.mark.parametrize("sign", ["", "-"])
def test_an_integer_of_5001_digits_is_422_naming_the_field(client, field, sign):
    response = client.post("/predict", content=_raw(EXAMPLE_RECORD, field, sign + HUGE), headers=JSON)
    assert response.status_code == 422, response.text[:300]
    [error] = response.json()["detail"]
    assert error["field"] == field and f"field '{field}'" in error["msg"]
    if field != "plan":
        assert "5001 digits" in error["msg"]
    assert len(response.text) < 1000  # the input is echoed shortened


def test_a_huge_integer_inside_a_batch_names_record_and_field(client):
    body = f"[{json.dumps(EXAMPLE_RECORD)}, {_raw(EXAMPLE_RECORD, 'tenure_months', HUGE)}]"
    response = client.post("/predict", content=body, headers=JSON)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", 1, "tenure_months"] and "record 1, field 'tenure_months'" in error["msg"]


def test_a_huge_integer_as_the_whole_body_or_an_unknown_field_is_422(client):
    response = client.post("/predict", content=HUGE, headers=JSON)
    assert response.status_code == 422 and "got a number" in response.json()["detail"]
    response = client.post("/predict", content=_raw(EXAMPLE_RECORD, "extra", HUGE), headers=JSON)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "extra"


def test_a_huge_integer_in_feedback_and_reload_is_422_naming_the_field(client):
    body = f'{{"prediction_id": "{"0" * 32}", "churned": {HUGE}}}'
    response = client.post("/feedback", content=body, headers=JSON)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "churned"
    auth = {**JSON, "Authorization": f"Bearer {TOKEN}"}
    response = client.post("/admin/reload", content=f'{{"model_uri": {HUGE}}}', headers=auth)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "model_uri"
    assert client.get("/model").json()["version"] == "1"


def test_a_huge_limit_parameter_is_422(client):
    response = client.get("/predictions", params={"limit": HUGE}, headers=AUTH)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "limit"


def test_limits_hold_the_simulator_and_the_quality_incidents():
    """Every value the simulator makes, including the quality scenario's unit bug (charges x100),
    is inside the limits, so the server serves it and monitoring can see it."""
    frames = [make_customers(5000, seed=0), make_traffic(days=30, scenario="quality", n_per_day=300)]
    frames += [make_traffic(days=30, scenario=s, n_per_day=200) for s in ("gradual", "sudden")]
    assert set(FEATURE_LIMITS) == set(NUMERIC_FEATURES)
    for frame in frames:
        for feature, (low, high) in FEATURE_LIMITS.items():
            if feature in frame:
                values = frame[feature].dropna()
                assert values.between(low, high).all(), (feature, values.min(), values.max())
    charges = frames[1]["monthly_charges"].dropna()
    assert charges.max() > 1000  # the unit bug is in there, and accepted


def test_the_example_record_is_a_valid_record(client):
    assert list(EXAMPLE_RECORD) == FEATURES
    response = client.post("/predict", json=EXAMPLE_RECORD)
    assert response.status_code == 200
    schema = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    assert schema["content"]["application/json"]["schema"]["anyOf"][0]["examples"] == [EXAMPLE_RECORD]


@pytest.mark.parametrize("feature", NUMERIC_FEATURES)
def test_values_outside_the_limits_are_422_naming_field_and_range(client, feature):
    low, high = FEATURE_LIMITS[feature]
    for value in (high * 1.5 + 1, low - 1, 1e308, -1e308):
        response = client.post("/predict", json={**EXAMPLE_RECORD, feature: value})
        assert response.status_code == 422, (feature, value, response.text)
        [error] = response.json()["detail"]
        assert error["field"] == feature and f"field '{feature}'" in error["msg"]
        assert f"allowed range {low:,} to {high:,}" in error["msg"]
    for value in (low, high):
        assert client.post("/predict", json={**EXAMPLE_RECORD, feature: value}).status_code == 200


def test_the_openapi_document_states_the_limits(client):
    properties = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    properties = properties["content"]["application/json"]["schema"]["anyOf"][0]["properties"]
    for feature, (low, high) in FEATURE_LIMITS.items():
        assert (properties[feature]["minimum"], properties[feature]["maximum"]) == (low, high)


def test_metrics_stay_finite_after_the_largest_accepted_values(client):
    """Batches of the most extreme records the server accepts, many times over: every sample on
    /metrics stays finite (with 1e308 accepted, two records made the sums infinite)."""
    highest = {**EXAMPLE_RECORD, **{f: FEATURE_LIMITS[f][1] for f in NUMERIC_FEATURES}}
    lowest = {**EXAMPLE_RECORD, **{f: FEATURE_LIMITS[f][0] for f in NUMERIC_FEATURES}}
    batch = [highest, lowest] * 500
    for _ in range(20):
        response = client.post("/predict", json=batch)
        assert response.status_code == 200
        assert all(0 <= a["probability"] <= 1 for a in response.json()["predictions"])
    for literal in ("1e308", "-1e308", "1.7976931348623157e308"):
        response = client.post("/predict", content=_raw(EXAMPLE_RECORD, "age", literal), headers=JSON)
        assert response.status_code == 422
    values = metric_values(client.get("/metrics").text)
    bad = {name: v for name, v in values.items() if not math.isfinite(v)}
    assert not bad, bad
    served = sum(v for name, v in values.items() if name.startswith("opslab_predictions_total{"))
    assert served >= 20_000, served
    # the extremes did reach the statistics: the drift window (all extreme records) is far from training
    assert values['opslab_feature_psi{feature="monthly_charges"}'] > 1.0


def test_the_limits_leave_room_for_a_billion_extreme_records():
    """The sum of squares of a billion records at the limits is still far from float overflow."""
    worst = max(max(abs(low), abs(high)) for low, high in FEATURE_LIMITS.values())
    assert np.float64(worst) ** 2 * 1e9 < 1e100

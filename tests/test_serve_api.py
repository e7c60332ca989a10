"""The lab server's endpoints through FastAPI's TestClient: answers, the log, metrics, bad input."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from opslab.data import FEATURES, NUMERIC_FEATURES
from opslab.registry import champion_uri
from opslab.serve.app import ServeSettings, create_app
from serve_support import AUTH, TOKEN, ensure_champion, sample_records

MAX_BATCH, MAX_BODY = 10, 20_000


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    ensure_champion()
    settings = ServeSettings(
        model_uri=champion_uri(),
        data_dir=tmp_path_factory.mktemp("serve-api"),
        admin_token=TOKEN,
        max_batch=MAX_BATCH,
        max_body_bytes=MAX_BODY,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def records():
    return sample_records(5)


@pytest.fixture(scope="module")
def reference(records):
    """P(churn) for ``records`` from the registered pipeline itself, through MLflow."""
    import mlflow
    import pandas as pd

    model = mlflow.sklearn.load_model(champion_uri())
    return model.predict_proba(pd.DataFrame(records)[FEATURES])[:, 1]


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["model_name"] == "churn-classifier"


def test_predict_one_record_matches_the_registered_pipeline(client, records, reference):
    response = client.post("/predict", json=records[0])
    assert response.status_code == 200
    [answer] = response.json()["predictions"]
    assert set(answer) == {"prediction_id", "churned", "probability", "model_name", "model_version"}
    assert len(answer["prediction_id"]) == 32 and int(answer["prediction_id"], 16) >= 0
    assert answer["probability"] == pytest.approx(reference[0], abs=1e-9)
    assert answer["churned"] == int(reference[0] >= 0.5)
    assert (answer["model_name"], answer["model_version"]) == ("churn-classifier", "1")


def test_predict_batch_keeps_order_and_ids_are_unique(client, records, reference):
    answers = client.post("/predict", json=records).json()["predictions"]
    assert [a["probability"] for a in answers] == pytest.approx(list(reference), abs=1e-9)
    assert len({a["prediction_id"] for a in answers}) == len(records)


def test_integers_and_floats_are_both_numbers(client, records):
    as_floats = {k: float(v) if k in NUMERIC_FEATURES else v for k, v in records[0].items()}
    a = client.post("/predict", json=records[0]).json()["predictions"][0]["probability"]
    b = client.post("/predict", json=as_floats).json()["predictions"][0]["probability"]
    assert a == b


def test_predictions_are_logged_with_inputs_and_feedback(client, records):
    answer = client.post("/predict", json=records[1]).json()["predictions"][0]
    feedback = client.post("/feedback", json={"prediction_id": answer["prediction_id"], "churned": 1})
    assert feedback.status_code == 200
    assert feedback.json() == {"prediction_id": answer["prediction_id"], "status": "recorded"}
    newest = client.get("/predictions", params={"limit": 1}, headers=AUTH).json()["predictions"][0]
    assert newest["prediction_id"] == answer["prediction_id"]
    assert newest["inputs"] == pytest.approx(records[1])
    assert newest["probability"] == answer["probability"] and newest["churned"] == answer["churned"]
    assert newest["model_version"] == "1" and newest["feedback"] == 1 and newest["timestamp"]


def test_predictions_limit(client, records):
    client.post("/predict", json=records[:3])
    assert len(client.get("/predictions", params={"limit": 2}, headers=AUTH).json()["predictions"]) == 2
    for bad in ["0", "abc", "100000"]:
        response = client.get("/predictions", params={"limit": bad}, headers=AUTH)
        assert response.status_code == 422 and "limit" in json.dumps(response.json()["detail"])


def test_feedback_for_an_unknown_prediction_is_404(client):
    response = client.post("/feedback", json={"prediction_id": "0" * 32, "churned": 0})
    assert response.status_code == 404 and "0" * 32 in response.json()["detail"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"prediction_id": "0" * 32, "churned": 2}, "churned"),
        ({"prediction_id": "0" * 32, "churned": True}, "churned"),
        ({"prediction_id": "0" * 32, "churned": "1"}, "churned"),
        ({"prediction_id": "not-an-id", "churned": 1}, "prediction_id"),
        ({"churned": 1}, "prediction_id"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(client, body, field):
    response = client.post("/feedback", json=body)
    assert response.status_code == 422
    assert any(e["field"] == field for e in response.json()["detail"])


def test_model_card(client):
    card = client.get("/model").json()
    assert (card["name"], card["version"], card["alias"]) == ("churn-classifier", "1", "champion")
    assert card["uri"] == "models:/churn-classifier/1"
    assert card["features"] == FEATURES
    assert 0.7 < card["metrics"]["roc_auc"] < 0.9
    assert set(card["feature_importance"]) == set(FEATURES)
    assert max(card["feature_importance"], key=card["feature_importance"].get) in {
        "tenure_months",
        "contract",
    }


def test_metrics_after_traffic(client, records):
    client.post("/predict", json=records)
    client.post("/predict", json={"nope": 1})
    text = client.get("/metrics").text
    assert 'opslab_requests_total{endpoint="/predict",method="POST",status="200"}' in text
    assert 'opslab_requests_total{endpoint="/predict",method="POST",status="422"}' in text
    assert 'opslab_request_latency_seconds_bucket{endpoint="/predict",le="0.1"}' in text
    predicted = sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("opslab_predictions_total{")
    )
    served = len(client.get("/predictions", params={"limit": 1000}, headers=AUTH).json()["predictions"])
    assert predicted == served  # every logged prediction was counted once
    problems = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("opslab_input_problems_total{")
    }
    assert problems['opslab_input_problems_total{feature="nope",problem="unknown_field"}'] >= 1
    assert problems['opslab_input_problems_total{feature="age",problem="missing"}'] >= 1
    assert f"opslab_drift_window_records {served:.1f}" in text  # the window reads the log
    assert "opslab_feature_psi{" not in text  # fewer records than the drift window's minimum


def test_unknown_paths_are_counted_as_other(client):
    assert client.get("/no/such/path").status_code == 404
    assert 'opslab_requests_total{endpoint="other",method="GET",status="404"}' in client.get("/metrics").text


def _with(record, **changes):
    out = {**record, **changes}
    return {k: v for k, v in out.items() if v is not ...}


BAD_RECORDS = {
    "missing field": (lambda r: _with(r, age=...), "age", "Field required"),
    "extra field": (lambda r: _with(r, favourite_colour="red"), "favourite_colour", "unknown field"),
    "string for a number": (lambda r: _with(r, tenure_months="12"), "tenure_months", "valid number"),
    "boolean for a number": (lambda r: _with(r, tenure_months=True), "tenure_months", "valid number"),
    "null for a number": (lambda r: _with(r, monthly_charges=None), "monthly_charges", "valid number"),
    "unknown category": (lambda r: _with(r, plan="gold"), "plan", "'basic', 'standard' or 'premium'"),
    "number for a category": (lambda r: _with(r, region=3), "region", "Input should be"),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_bad_record_is_422_naming_field_and_problem(client, records, case):
    make, field, problem = BAD_RECORDS[case]
    for body, where in [(make(records[0]), "field"), ([records[0], make(records[1])], "record 1, field")]:
        response = client.post("/predict", json=body)
        assert response.status_code == 422, response.text
        [error] = [e for e in response.json()["detail"] if e["field"] == field]
        assert problem in error["msg"] and f"{where} '{field}'" in error["msg"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422(client, records, literal):
    body = json.dumps(records[0]).replace(f'"age": {records[0]["age"]}', f'"age": {literal}')
    assert literal in body
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "age" and "finite" in error["msg"]


def test_empty_batch_is_422(client):
    response = client.post("/predict", json=[])
    assert response.status_code == 422 and "empty" in response.json()["detail"]


def test_batch_over_the_limit_is_413(client, records):
    response = client.post("/predict", json=[records[0]] * (MAX_BATCH + 1))
    assert response.status_code == 413 and f"limit of {MAX_BATCH}" in response.json()["detail"]


@pytest.mark.parametrize("body", ['"a string"', "42", "null", "true", "[1, 2]"])
def test_body_that_is_not_records_is_422(client, body):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "object" in json.dumps(response.json()["detail"])


@pytest.mark.parametrize("body", ['{"age": ', "{'age': 1}", "[{]", "\xff\xfe"])
def test_malformed_json_is_400(client, body):
    content = body.encode("latin-1")
    response = client.post("/predict", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"] or "UTF-8" in response.json()["detail"]


def test_errors_echo_hostile_input_safely(client, records):
    lone_surrogate = json.dumps(records[0]).replace('"basic"', '"\\ud800"').replace('"standard"', '"\\ud800"')
    lone_surrogate = lone_surrogate.replace('"premium"', '"\\ud800"')
    headers = {"content-type": "application/json"}
    response = client.post("/predict", content=lone_surrogate.encode(), headers=headers)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "plan"
    huge = json.dumps(records[0]).replace(f'"age": {records[0]["age"]}', '"age": 1' + "0" * 400)
    response = client.post("/predict", content=huge.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 422 and len(response.text) < 1000, response.text[:200]
    nested = "[" * 10_000 + "]" * 10_000
    response = client.post("/predict", content=nested.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 400 and "nested" in response.json()["detail"]


def test_empty_body_is_400(client):
    response = client.post("/predict", content=b"", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "empty" in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client, records, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=json.dumps(records[0]).encode(), headers=headers)
    assert response.status_code == 415 and "application/json" in response.json()["detail"]


def test_content_type_with_charset_is_fine(client, records):
    response = client.post(
        "/predict",
        content=json.dumps(records[0]).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_oversized_body_is_413(client, records):
    body = json.dumps({**records[0], "padding": "x" * MAX_BODY}).encode()
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and f"{MAX_BODY} bytes" in response.json()["detail"]


def test_oversized_streamed_body_without_length_is_413(client):
    def chunks():  # no Content-Length header: the limit must hold while reading
        for _ in range(5):
            yield b" " * (MAX_BODY // 2)

    response = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_wrong_method_is_405(client):
    assert client.get("/predict").status_code == 405


def test_reload_needs_a_token(client):
    assert client.post("/admin/reload", json={}).status_code == 401
    assert client.post("/admin/reload", json={}, headers={"Authorization": "Basic abc"}).status_code == 401
    wrong = client.post("/admin/reload", json={}, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 403 and "token" in wrong.json()["detail"]


def test_reload_to_an_unknown_model_keeps_the_old_one(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for uri, status in [
        ("models:/churn-classifier@nobody", 404),
        ("/no/such/folder", 404),
        ("not a uri", 404),
        ("models:/a/b/c", 400),
    ]:
        response = client.post("/admin/reload", json={"model_uri": uri}, headers=auth)
        assert response.status_code == status, (uri, response.text)
        assert uri in response.json()["detail"] or "models:/" in response.json()["detail"]
    assert client.get("/model").json()["version"] == "1"
    bad = client.post("/admin/reload", json={"model_uri": 3}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "model_uri"


def test_reload_with_the_token_reloads(client):
    response = client.post(
        "/admin/reload", json={"model_uri": champion_uri()}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    assert response.json()["model"]["version"] == "1" and response.json()["previous"]["version"] == "1"
    no_body = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert no_body.status_code == 200 and no_body.json()["model"]["alias"] == "champion"


def test_admin_is_disabled_without_a_server_token(tmp_path):
    ensure_champion()
    app = create_app(ServeSettings(model_uri=champion_uri(), data_dir=tmp_path, admin_token=None))
    with TestClient(app) as client:
        response = client.post("/admin/reload", json={}, headers={"Authorization": "Bearer anything"})
        assert response.status_code == 403 and "OPSLAB_ADMIN_TOKEN" in response.json()["detail"]


def test_without_a_model_the_server_is_alive_but_not_ready(tmp_path):
    app = create_app(ServeSettings(model_uri=str(tmp_path / "missing.onnx"), data_dir=tmp_path))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and "missing.onnx" in ready.json()["detail"]
        assert client.post("/predict", json={}).status_code == 503
        assert client.get("/model").status_code == 503


def test_openapi_documents_the_record_schema(client):
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["anyOf"][0]["properties"]) == set(FEATURES)


def test_the_prediction_log_is_the_admins_only(client, tmp_path):
    """/predictions holds every caller's input: 401 without the admin token, 403 with a wrong one (or on a
    server without a token), and never a record of the log in either answer."""
    anonymous = client.get("/predictions")
    assert anonymous.status_code == 401 and "Bearer" in anonymous.json()["detail"]
    wrong = client.get("/predictions", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403 and "predictions" not in wrong.json()
    assert client.get("/predictions", headers=AUTH).status_code == 200
    app = create_app(ServeSettings(model_uri=champion_uri(), data_dir=tmp_path, admin_token=None))
    with TestClient(app) as tokenless:
        assert tokenless.get("/predictions", headers=AUTH).status_code == 403

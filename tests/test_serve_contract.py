"""The lab server keeps its OpenAPI contract: schemathesis (every check) against a live server finds
no 5xx, no undocumented status code or media type, no valid request refused and no invalid one served."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from opslab.registry import champion_uri
from opslab.serve.app import ServeSettings, create_app
from opslab.serve.process import LabServer
from serve_support import AUTH, TOKEN, ensure_champion, sample_records

EXAMPLES = 10  # per operation and phase: enough to find the classic mistakes, quick enough for CI


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    ensure_champion()
    app = create_app(ServeSettings(model_uri=champion_uri(), data_dir=tmp_path_factory.mktemp("contract"),
                                   admin_token=TOKEN))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def openapi(client):
    return client.get("/openapi.json").json()


def test_schemathesis_finds_nothing(tmp_path):
    pytest.importorskip("schemathesis")
    ensure_champion()
    with LabServer(data_dir=tmp_path / "data", admin_token=TOKEN) as lab:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{lab.url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                "20261127",
                "--generation-database",
                "none",
                "--no-color",
                "--request-timeout",
                "60",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
    print(run.stdout[-5000:])
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-2000:]
    assert "8 selected" in run.stdout  # every operation was tested


EXPECTED = {
    ("/predict", "post"): {"200", "400", "413", "415", "422", "503"},
    ("/feedback", "post"): {"200", "400", "404", "413", "415", "422", "503"},
    ("/admin/reload", "post"): {"200", "400", "401", "403", "404", "413", "415", "422"},
    ("/predictions", "get"): {"200", "401", "403", "422"},
    ("/ready", "get"): {"200", "503"},
    ("/model", "get"): {"200", "503"},
    ("/health", "get"): {"200"},
    ("/metrics", "get"): {"200"},
}


def test_every_status_code_is_documented_with_its_body(openapi):
    for (path, method), codes in EXPECTED.items():
        documented = openapi["paths"][path][method]["responses"]
        assert set(documented) == codes, (path, set(documented) ^ codes)
        for code in codes - {"200"}:
            content = documented[code]["content"]
            assert list(content) == ["application/json"], (path, code)
            assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    problem = openapi["components"]["schemas"]["Problem"]
    assert problem["properties"]["detail"]["type"] == "string"
    field_problem = openapi["components"]["schemas"]["FieldProblem"]
    assert {"loc", "field", "msg", "type"} <= set(field_problem["required"])


def test_metrics_are_documented_as_text(openapi):
    assert list(openapi["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


def test_admin_uses_a_bearer_scheme_and_an_optional_body(openapi):
    reload = openapi["paths"]["/admin/reload"]["post"]
    [requirement] = reload["security"]
    scheme = openapi["components"]["securitySchemes"][next(iter(requirement))]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert reload["requestBody"]["required"] is False


def test_a_whole_float_is_an_integer_outcome(client):
    """JSON Schema's "integer" admits 1.0, so /feedback takes churned 1.0 and 0.0 as 1 and 0;
    0.5, "1" and true are still refused."""
    ids = [a["prediction_id"] for a in client.post("/predict", json=sample_records(2)).json()["predictions"]]
    for pid, outcome in zip(ids, [1.0, 0.0]):
        response = client.post("/feedback", json={"prediction_id": pid, "churned": outcome})
        assert response.status_code == 200, response.text
    logged = {p["prediction_id"]: p["feedback"] for p in client.get("/predictions", headers=AUTH).json()["predictions"]}
    assert [logged[i] for i in ids] == [1, 0]
    for bad in [0.5, 2.0, "1", True]:
        response = client.post("/feedback", json={"prediction_id": ids[0], "churned": bad})
        assert response.status_code == 422 and response.json()["detail"][0]["field"] == "churned"

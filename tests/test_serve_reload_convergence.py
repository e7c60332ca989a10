"""Reloads that converge: whatever a load throws, and however often it fails first, every worker ends on the
model that was chosen, says on /ready what it has not loaded yet, and the server never answers 500."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from opslab.background import BackgroundServer
from opslab.registry import champion_uri
from opslab.serve.model_store import SharedChoice
from opslab.serve.process import LabServer
from serve_support import TOKEN, ensure_champion, every_worker


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """The champion saved as a self-contained model folder (what a Space serves)."""
    import mlflow

    from opslab.registry import mlflow_pointed_at, tracking_uri

    ensure_champion()
    folder = tmp_path_factory.mktemp("models") / "good"
    with mlflow_pointed_at(tracking_uri()):
        mlflow.sklearn.save_model(mlflow.sklearn.load_model(champion_uri()), folder,
                                  pyfunc_predict_fn="predict_proba")
    return folder


def garbage_model(good, where):
    """A model folder whose MLmodel is fine and whose serialized model is not (skops or pickle): loading it
    raises the serializer's own error, neither OSError nor MlflowException."""
    shutil.copytree(good, where)
    serialized = [p for p in where.iterdir() if p.suffix in (".skops", ".pkl")]
    assert serialized, sorted(p.name for p in where.iterdir())
    for path in serialized:
        path.write_bytes(b"not a model at all")
    return where


def publish(metrics_dir, generation: int, uri: str) -> None:
    """What one worker's /admin/reload writes for the others: here written by the test, so it is known that
    no worker loaded it before."""
    SharedChoice(metrics_dir).path.write_text(json.dumps({"generation": generation, "uri": uri}))


def test_a_load_that_fails_first_is_retried_until_every_worker_serves_the_choice(tmp_path, model_folder):
    later = tmp_path / "arrives-later"  # chosen before it exists: every worker's first load fails
    with LabServer(data_dir=tmp_path / "data", workers=2, timeout=300) as lab:
        metrics = tmp_path / "data" / "metrics"
        publish(metrics, 1, str(later))
        every_worker(lab, metrics, lambda card: card["pending_reload"] == str(later) and card["reload_error"])
        ready = httpx.get(f"{lab.url}/ready", timeout=30).json()
        assert ready["status"] == "ready" and "no MLflow model" not in str(ready)  # the old model still serves
        shutil.copytree(model_folder, later)
        every_worker(lab, metrics, lambda card: card["uri"] == str(later.resolve()) and card["pending_reload"] is None
                     and card["reload_error"] is None)


def test_an_unexpected_load_error_is_a_4xx_and_no_worker_stops_following(tmp_path, model_folder):
    broken = garbage_model(model_folder, tmp_path / "garbage")
    with LabServer(data_dir=tmp_path / "data", workers=2, admin_token=TOKEN, timeout=300) as lab:
        metrics = tmp_path / "data" / "metrics"
        refused = httpx.post(f"{lab.url}/admin/reload", json={"model_uri": str(broken)},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        assert refused.status_code == 422, refused.text
        assert "cannot serve the model" in refused.json()["detail"]
        publish(metrics, 1, str(broken))  # every worker's follower meets the same error
        every_worker(lab, metrics, lambda card: card["pending_reload"] == str(broken)
                     and "cannot serve the model" in (card["reload_error"] or ""))
        publish(metrics, 2, str(model_folder))  # and still follows the next choice
        every_worker(lab, metrics, lambda card: card["uri"] == str(model_folder.resolve())
                     and card["reload_error"] is None)


def test_a_server_started_on_a_model_it_cannot_load_stays_up_and_says_why(tmp_path, model_folder):
    broken = garbage_model(model_folder, tmp_path / "garbage")
    lab = LabServer(model_uri=str(broken), data_dir=tmp_path / "data", timeout=120)
    with BackgroundServer(lab.args, f"{lab.url}/health", timeout=120, env=lab.env) as up:
        ready = httpx.get(f"{lab.url}/ready", timeout=30)
        assert ready.status_code == 503 and "cannot serve the model" in ready.json()["detail"]
        assert httpx.post(f"{lab.url}/predict", json={}, timeout=30).status_code in (422, 503)
        assert up.process.poll() is None

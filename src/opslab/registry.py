"""The course's model registry: one MLflow store on local SQLite under ``$OPSLAB_HOME/registry``."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

from opslab.env import labs_home

MODEL_NAME = "churn-classifier"
CHAMPION = "champion"
EXPERIMENT = "churn-classifier"


def registry_dir() -> Path:
    """``$OPSLAB_HOME/registry``: the tracking database and the artifact store live here."""
    return labs_home() / "registry"


def tracking_uri() -> str:
    """The course registry's tracking URI: ``sqlite:///$OPSLAB_HOME/registry/mlflow.db``."""
    return f"sqlite:///{registry_dir() / 'mlflow.db'}"


def artifact_root() -> Path:
    return registry_dir() / "artifacts"


def champion_uri(name: str = MODEL_NAME, alias: str = CHAMPION) -> str:
    """``models:/churn-classifier@champion``: what ``opslab serve`` loads when given no URI."""
    return f"models:/{name}@{alias}"


def point_mlflow_at(uri: str) -> None:
    """Point this process's MLflow tracking and registry at ``uri``, and only this process's.

    MLflow's setters also export ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``; every kernel,
    server or book build started afterwards would inherit them and talk to the wrong store.
    """
    import mlflow

    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def use_course_registry():
    """Point MLflow (tracking and registry) at the course registry and return a client for it."""
    from mlflow import MlflowClient

    registry_dir().mkdir(parents=True, exist_ok=True)
    point_mlflow_at(tracking_uri())
    return MlflowClient(tracking_uri(), registry_uri=tracking_uri())


def ensure_experiment(client, name: str = EXPERIMENT) -> str:
    """The id of the course experiment, created with its artifacts under :func:`artifact_root`."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_root().mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=artifact_root().as_uri())


def champion_exists(name: str = MODEL_NAME, alias: str = CHAMPION) -> bool:
    """True when the course registry has a version of ``name`` under ``alias``."""
    if not (registry_dir() / "mlflow.db").exists():
        return False
    from mlflow.exceptions import MlflowException

    client = use_course_registry()
    try:
        client.get_model_version_by_alias(name, alias)
        return True
    except MlflowException:
        return False


_POINTED = threading.Lock()


@contextmanager
def mlflow_pointed_at(uri: str):
    """MLflow's tracking and registry at ``uri`` for the ``with`` block only: afterwards both (and the
    environment) are exactly as before, also "not set". Loading a model in a notebook or a server thus
    never moves the process's own MLflow. One block at a time (MLflow's URIs are process-wide)."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    with _POINTED:
        saved = (tracking._tracking_uri, registry._registry_uri,
                 {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")})
        try:
            point_mlflow_at(uri)
            yield
        finally:
            mlflow.set_tracking_uri(saved[0])
            mlflow.set_registry_uri(saved[1])
            for key, value in saved[2].items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

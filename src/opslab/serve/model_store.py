"""Where the server's model comes from (registry alias, model folder or ONNX file) and the one
reference every request reads, swapped atomically when a new model has fully loaded."""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from opslab.data import EXAMPLE_RECORD, FEATURES
from opslab.serve.predictors import OnnxPredictor, PyfuncPredictor, sklearn_predictor

REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class ModelLoadError(Exception):
    """The model could not be loaded; ``status`` is the HTTP status that fits (404: not found)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LoadedModel:
    predictor: object
    name: str
    version: str
    uri: str
    alias: str | None = None
    metrics: dict = field(default_factory=dict)
    feature_importance: dict = field(default_factory=dict)
    features: list = field(default_factory=lambda: list(FEATURES))
    loaded_at: str = ""

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "uri": self.uri,
            "metrics": self.metrics,
            "features": self.features,
            "feature_importance": self.feature_importance,
            "predictor": self.predictor.kind,
            "loaded_at": self.loaded_at,
        }


def _probe() -> list[dict]:
    """A few records that exercise every category, to check a fast predictor against the model."""
    from opslab.data import CATEGORIES

    records = []
    for i in range(4):
        record = {
            k: (v * (1 + 0.3 * i) if isinstance(v, (int, float)) else v) for k, v in EXAMPLE_RECORD.items()
        }
        for feature, values in CATEGORIES.items():
            record[feature] = values[i % len(values)]
        records.append(record)
    return records


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _from_mlflow(uri: str, name: str, version: str, alias: str | None) -> LoadedModel:
    """Load an MLflow model (``uri``: models:/NAME/VERSION or a folder): sklearn flavour if it has one."""
    import mlflow

    try:
        info = mlflow.models.get_model_info(uri)
        metadata = info.metadata or {}
        if "sklearn" in info.flavors:
            predictor = sklearn_predictor(mlflow.sklearn.load_model(uri), _probe())
        else:
            predictor = PyfuncPredictor(mlflow.pyfunc.load_model(uri))
    except (OSError, mlflow.exceptions.MlflowException) as err:
        raise ModelLoadError(f"cannot load MLflow model {uri}: {err}", 404) from None
    return LoadedModel(
        predictor,
        name=metadata.get("name", name),
        version=version,
        uri=uri,
        alias=alias,
        metrics=metadata.get("metrics", {}),
        feature_importance=metadata.get("feature_importance", {}),
        features=metadata.get("features", list(FEATURES)),
        loaded_at=_now(),
    )


def _from_registry(uri: str) -> LoadedModel:
    """models:/NAME@ALIAS or models:/NAME/VERSION from the course registry (or $MLFLOW_TRACKING_URI).
    An alias is resolved to a version first, so the model loaded is exactly the version reported."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from opslab.registry import mlflow_pointed_at, tracking_uri

    match = REGISTRY_URI.match(uri)
    if not match:
        raise ModelLoadError(f"{uri!r} is not models:/NAME@ALIAS or models:/NAME/VERSION")
    store = os.environ.get("MLFLOW_TRACKING_URI") or tracking_uri()
    name, alias = match["name"], match["alias"]
    try:
        client = MlflowClient(store, registry_uri=store)
        if alias:
            version = client.get_model_version_by_alias(name, alias).version
        else:
            version = client.get_model_version(name, match["version"]).version
    except MlflowException as err:
        hint = " (run `opslab train` to create the course's champion)" if alias else ""
        raise ModelLoadError(f"no model {uri} in the registry at {store}{hint}: {err.message}", 404) from None
    with mlflow_pointed_at(store):  # resolving models:/ needs the store; the process's MLflow stays as it was
        return _from_mlflow(f"models:/{name}/{version}", name, str(version), alias)


def _from_onnx(path: Path, uri: str) -> LoadedModel:
    import onnx

    try:
        predictor = OnnxPredictor(path)
        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except ValueError as err:
        raise ModelLoadError(str(err)) from None
    except Exception as err:  # onnxruntime raises its own error types for a broken file
        raise ModelLoadError(f"cannot load ONNX model {path}: {err}") from None
    metadata = json.loads(props.get("opslab", "{}"))
    return LoadedModel(
        predictor,
        name=metadata.get("name", path.stem),
        version=metadata.get("version", "onnx"),
        uri=uri,
        metrics=metadata.get("metrics", {}),
        feature_importance=metadata.get("feature_importance", {}),
        loaded_at=_now(),
    )


def load_model(uri: str) -> LoadedModel:
    """Load the model at ``uri``: models:/NAME@ALIAS, models:/NAME/VERSION, an MLflow model folder
    (with an MLmodel file) or a ``.onnx`` file. Raises :class:`ModelLoadError` saying what is wrong,
    whatever went wrong (a pipeline that expects other columns, a model that cannot be unpickled...)."""
    try:
        return _load(uri.strip())
    except ModelLoadError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure to load is the model's, reported as such
        raise ModelLoadError(f"cannot serve the model at {uri}: {type(err).__name__}: {err}", 422) from None


def _load(uri: str) -> LoadedModel:
    if uri.startswith("models:/"):
        return _from_registry(uri)
    path = Path(uri.removeprefix("file://")).expanduser()
    if path.suffix == ".onnx":
        if not path.is_file():
            raise ModelLoadError(f"no ONNX file at {path}", 404)
        return _from_onnx(path, uri)
    if (path / "MLmodel").is_file():
        return _from_mlflow(str(path.resolve()), path.resolve().name, "local", None)
    if path.exists():
        raise ModelLoadError(f"{path} is neither an MLflow model folder (no MLmodel file) nor a .onnx file")
    raise ModelLoadError(
        f"cannot load a model from {uri!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION, "
        "a folder with an MLmodel file, or a .onnx file",
        404,
    )


class ModelStore:
    """Holds the model in service. Requests read ``current`` once and use that object throughout, so
    a reload that replaces it (one reference assignment) never mixes two models in one answer."""

    def __init__(self):
        self.current: LoadedModel | None = None
        self.error: str | None = None  # why the last load failed, while no model is in service
        self._reload_lock = threading.Lock()

    def load_and_swap(self, uri: str) -> tuple[LoadedModel, LoadedModel | None]:
        """Load ``uri`` fully, then put it in service; returns (new, previous). The old model keeps
        answering while the new one loads; a failed load leaves it in service."""
        with self._reload_lock:
            try:
                model = load_model(uri)
            except ModelLoadError as err:
                if self.current is None:
                    self.error = str(err)
                raise
            previous, self.current, self.error = self.current, model, None
            return model, previous


@dataclass
class Follower:
    """A worker's state in following the shared choice: what it has not managed to load yet, and why."""

    pending: str | None = None
    error: str | None = None
    attempts: int = 0
    next_try: float = 0.0

    def describe(self) -> dict:
        return {"pending_reload": self.pending, "reload_error": self.error}


class SharedChoice:
    """Which model the workers of one server serve: a file in the folder they share (the server's
    metrics folder, emptied before any worker starts), so that a reload one worker answers becomes
    every worker's. :meth:`publish` is called by the worker that reloaded; every worker calls
    :meth:`newer` about once a second and loads what it returns; a worker that (re)starts after a
    reload serves the published model, not the one the server was started with."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "model-in-service.json"
        self.generation = 0  # the last choice this worker follows
        self._stamp = None  # the file's (mtime, size) when last read: a stat per poll, a read per change
        self._seen: tuple[int, str] | None = None  # what that read found

    def publish(self, uri: str) -> None:
        import fcntl

        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two workers reloading at once get distinct generations
            current = self._read()
            self.generation = (current[0] if current else 0) + 1
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"generation": self.generation, "uri": uri}))
            os.replace(tmp, self.path)  # readers see the old choice or the new, never half of one

    def newer(self) -> tuple[int, str] | None:
        """(generation, URI) of the published choice if it is newer than what this worker follows, else
        None. Nothing changes until :meth:`follow` says the worker serves it: a load that failed is
        offered again at the next call."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._stamp and self._seen is not None and self._seen[0] <= self.generation:
            return None
        self._stamp = stamp
        current = self._read()
        self._seen = current
        if current is None or current[0] <= self.generation:
            return None
        return current

    def follow(self, generation: int) -> None:
        """This worker now serves the choice of ``generation``."""
        self.generation = max(self.generation, generation)

    def _read(self) -> tuple[int, str] | None:
        try:
            data = json.loads(self.path.read_text())
            return int(data["generation"]), str(data["uri"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

"""The course's default churn model, trained and registered as the champion (``opslab train``)."""

from __future__ import annotations

import hashlib
import json
import time

import pandas as pd

from opslab.data import CATEGORICAL_FEATURES, CATEGORIES, FEATURES, NUMERIC_FEATURES, TARGET, make_customers
from opslab.registry import CHAMPION, MODEL_NAME

SETTINGS = {"n": 5000, "data_seed": 0, "test_size": 0.2, "split_seed": 0, "C": 1.0, "max_iter": 1000}
PIP_REQUIREMENTS = ["scikit-learn", "numpy", "pandas"]


def build_pipeline(C: float = 1.0, max_iter: int = 1000):
    """One-hot for categoricals (fixed category lists), scaling for numbers, logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC_FEATURES),
            (
                "categorical",
                OneHotEncoder(
                    categories=[CATEGORIES[c] for c in CATEGORICAL_FEATURES], handle_unknown="ignore"
                ),
                CATEGORICAL_FEATURES,
            ),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(C=C, max_iter=max_iter))])


def as_features(df: pd.DataFrame) -> pd.DataFrame:
    """The model's input frame: the twelve features, numbers as float64 (so JSON ints and floats agree)."""
    X = df[FEATURES].copy()
    X[NUMERIC_FEATURES] = X[NUMERIC_FEATURES].astype("float64")
    return X


def split(settings: dict = SETTINGS):
    from sklearn.model_selection import train_test_split

    df = make_customers(n=settings["n"], seed=settings["data_seed"])
    return train_test_split(
        as_features(df),
        df[TARGET],
        test_size=settings["test_size"],
        random_state=settings["split_seed"],
        stratify=df[TARGET],
    )


def evaluate(model, X_test, y_test) -> dict[str, float]:
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    p = model.predict_proba(X_test)[:, 1]
    yhat = (p >= 0.5).astype(int)
    return {
        "roc_auc": round(float(roc_auc_score(y_test, p)), 6),
        "accuracy": round(float(accuracy_score(y_test, yhat)), 6),
        "precision": round(float(precision_score(y_test, yhat, zero_division=0)), 6),
        "recall": round(float(recall_score(y_test, yhat)), 6),
        "f1": round(float(f1_score(y_test, yhat)), 6),
        "log_loss": round(float(log_loss(y_test, p)), 6),
    }


def feature_importance(model, X_test, y_test, seed: int = 0) -> dict[str, float]:
    """Permutation importance: how much test AUC drops when one feature's values are shuffled."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(model, X_test, y_test, scoring="roc_auc", n_repeats=5, random_state=seed)
    return {f: round(float(v), 6) for f, v in zip(X_test.columns, result.importances_mean, strict=True)}


def fingerprint(settings: dict = SETTINGS) -> str:
    """What makes a training run the same one: its settings and the scikit-learn version."""
    import sklearn

    text = json.dumps({**settings, "sklearn": sklearn.__version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def current_champion(client, name: str = MODEL_NAME, alias: str = CHAMPION):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def train_and_register(
    force: bool = False, name: str = MODEL_NAME, alias: str = CHAMPION, quiet: bool = False
):
    """Train the default model and register it as ``name@alias`` in the course registry.

    Idempotent: when the champion already comes from the same settings it is returned untouched
    (``force=True`` trains and registers a new version anyway). Returns the model version.
    """
    import mlflow
    from mlflow.models import infer_signature

    from opslab.env import go_offline
    from opslab.registry import ensure_experiment, use_course_registry

    go_offline()
    say = (lambda *a: None) if quiet else print
    client = use_course_registry()
    fp = fingerprint()
    champion = current_champion(client, name, alias)
    if champion is not None and champion.tags.get("opslab.fingerprint") == fp and not force:
        say(
            f"{name}@{alias} is version {champion.version}, trained with these settings: nothing to do"
        )
        return champion

    started = time.perf_counter()
    X_train, X_test, y_train, y_test = split()
    model = build_pipeline(SETTINGS["C"], SETTINGS["max_iter"]).fit(X_train, y_train)
    metrics = evaluate(model, X_test, y_test)
    importance = feature_importance(model, X_test, y_test)
    metadata = {"features": FEATURES, "metrics": metrics, "feature_importance": importance, "fingerprint": fp}

    experiment_id = ensure_experiment(client)
    with mlflow.start_run(experiment_id=experiment_id, run_name="default-model") as run:
        mlflow.log_params(SETTINGS)
        mlflow.log_metrics(metrics)
        mlflow.log_dict(importance, "feature_importance.json")
        info = log_model(
            model,
            X_train,
            signature=infer_signature(X_train.head(20), model.predict_proba(X_train.head(20))),
            metadata=metadata,
        )
    version = register(client, info.model_uri, name, alias, tags={"opslab.fingerprint": fp})
    say(
        f"trained in {time.perf_counter() - started:.1f} s: AUC {metrics['roc_auc']:.3f}; "
        f"registered {name} version {version.version} as @{alias} (run {run.info.run_id})"
    )
    return client.get_model_version(name, version.version)


def register_stand_in(labelled: pd.DataFrame, since_day: int, name: str = MODEL_NAME, alias: str = "challenger"):
    """A stand-in for a lab exercise that is not written yet, so the lab's main road keeps working: the
    default pipeline refit on the labelled rows from ``since_day`` on (the newest labelled day held
    out), logged and registered as ``name@alias``. ``since_day`` is an oracle (the simulator knows when
    the world changed); a real retraining pipeline has to choose its window. Returns
    ``(model, train, holdout, version)``."""
    import mlflow

    from opslab.registry import ensure_experiment, use_course_registry

    client = use_course_registry()
    newest = labelled.day.max()
    train = labelled[(labelled.day >= since_day) & (labelled.day < newest)]
    holdout = labelled[labelled.day == newest]
    model = build_pipeline(SETTINGS["C"], SETTINGS["max_iter"]).fit(train[FEATURES], train[TARGET])
    with mlflow.start_run(experiment_id=ensure_experiment(client), run_name="stand-in challenger"):
        info = log_model(model, train[FEATURES])
    return model, train, holdout, register(client, info.model_uri, name, alias).version


def log_model(model, X: pd.DataFrame, **extra):
    """Log a churn pipeline to the active run as the course does: ``model/``, an input example from
    ``X``, the course's pins, and ``predict_proba`` as its pyfunc prediction."""
    import mlflow

    return mlflow.sklearn.log_model(model, name="model", input_example=X.head(3), pip_requirements=PIP_REQUIREMENTS,
                                    pyfunc_predict_fn="predict_proba", **extra)


def register(client, model_uri: str, name: str, alias: str, tags: dict | None = None):
    """Register ``model_uri`` as a new version of ``name`` and point ``@alias`` at it; returns the version."""
    import mlflow

    version = mlflow.register_model(model_uri, name, tags=tags)
    client.set_registered_model_alias(name, alias, version.version)
    return version

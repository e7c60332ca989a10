"""Training and loading: the registered champion, idempotent training, the numpy fast path, ONNX."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from opslab.data import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from opslab.registry import MODEL_NAME, champion_uri, use_course_registry
from opslab.serve.app import ServeSettings, create_app
from opslab.serve.model_store import ModelLoadError, load_model
from opslab.serve.predictors import FramePipeline, NumpyPipeline, sklearn_predictor
from serve_support import ensure_champion, sample_records


@pytest.fixture(scope="module")
def champion():
    return ensure_champion()


@pytest.fixture(scope="module")
def pipeline(champion):
    import mlflow

    return mlflow.sklearn.load_model(champion_uri())


@pytest.fixture(scope="module")
def records():
    return sample_records(500, seed=7)


def test_training_registers_the_champion_with_its_record(champion):
    client = use_course_registry()
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert version.version == champion.version
    run = client.get_run(version.run_id)
    assert 0.7 < run.data.metrics["roc_auc"] < 0.9
    assert run.data.params["data_seed"] == "0"


def test_training_again_is_a_no_op(champion):
    from opslab.train import train_and_register

    again = train_and_register(quiet=True)
    assert again.version == champion.version
    assert (
        use_course_registry().get_model_version_by_alias(MODEL_NAME, "champion").version == champion.version
    )


def test_registered_model_has_signature_example_and_requirements(champion):
    import mlflow

    info = mlflow.models.get_model_info(champion_uri())
    assert [c["name"] for c in info.signature.inputs.to_dict()] == FEATURES
    assert info.saved_input_example_info is not None
    assert info.metadata["metrics"]["roc_auc"] > 0.7 and set(info.metadata["feature_importance"]) == set(
        FEATURES
    )
    requirements = mlflow.artifacts.download_artifacts(f"{champion_uri()}/requirements.txt")
    assert "scikit-learn" in open(requirements).read()


def test_numpy_fast_path_equals_the_pipeline(pipeline, records):
    fast, slow = NumpyPipeline(pipeline), FramePipeline(pipeline)
    assert np.abs(fast.predict_proba(records) - slow.predict_proba(records)).max() < 1e-12
    assert sklearn_predictor(pipeline, records[:5]).kind == NumpyPipeline.kind


def test_numpy_fast_path_calls_a_non_linear_classifier(records):
    from sklearn.ensemble import RandomForestClassifier

    from opslab.data import make_customers
    from opslab.train import as_features, build_pipeline

    df = make_customers(n=600, seed=3)
    forest = build_pipeline()
    forest.steps[-1] = ("classifier", RandomForestClassifier(n_estimators=10, random_state=0))
    forest.fit(as_features(df), df["churned"])
    fast = NumpyPipeline(forest)
    assert fast.coef is None
    assert np.abs(fast.predict_proba(records) - FramePipeline(forest).predict_proba(records)).max() < 1e-12


def test_other_pipelines_fall_back_to_dataframes(records):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    from opslab.data import make_customers
    from opslab.train import as_features

    df = make_customers(n=600, seed=3)
    odd = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("n", FunctionTransformer(np.log1p), NUMERIC_FEATURES),
                        ("c", OrdinalEncoder(), CATEGORICAL_FEATURES),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    ).fit(as_features(df), df["churned"])
    predictor = sklearn_predictor(odd, records[:5])
    assert predictor.kind == FramePipeline.kind
    expected = odd.predict_proba(as_features(pd.DataFrame(records)))[:, 1]
    assert np.allclose(predictor.predict_proba(records), expected)


def test_a_local_model_folder_loads(champion, tmp_path):
    import mlflow

    folder = mlflow.artifacts.download_artifacts(champion_uri(), dst_path=str(tmp_path / "dl"))
    model = load_model(folder)
    assert model.version == "local" and model.metrics["roc_auc"] > 0.7


def test_unloadable_uris_say_why(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no MLmodel file"):
        load_model(str(tmp_path / "empty"))
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelLoadError, match="broken.onnx"):
        load_model(str(tmp_path / "broken.onnx"))
    with pytest.raises(ModelLoadError, match="run `opslab train`"):
        load_model("models:/churn-classifier@nobody")


def test_an_onnx_file_serves_the_same_probabilities(pipeline, records, tmp_path):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    types = [(f, FloatTensorType([None, 1])) for f in NUMERIC_FEATURES]
    types += [(f, StringTensorType([None, 1])) for f in CATEGORICAL_FEATURES]
    onx = convert_sklearn(
        pipeline, initial_types=types, options={id(pipeline.steps[-1][1]): {"zipmap": False}}
    )
    path = tmp_path / "churn.onnx"
    path.write_bytes(onx.SerializeToString())
    settings = ServeSettings(model_uri=str(path), data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        card = client.get("/model").json()
        assert card["predictor"].startswith("onnx") and card["version"] == "onnx"
        answers = client.post("/predict", json=records[:100]).json()["predictions"]
    served = np.array([a["probability"] for a in answers])
    assert np.abs(served - pipeline.predict_proba(pd.DataFrame(records[:100]))[:, 1]).max() <= 1e-5


def test_train_verb_says_when_there_is_nothing_to_do(champion, capsys):
    from opslab.cli import main

    assert main(["train"]) == 0
    out = capsys.readouterr().out
    assert "nothing to do" in out and "models:/churn-classifier@champion" in out

"""Predictors: turn validated records into P(churn) with as little per-request work as possible.

Each predictor has ``predict_proba(records) -> np.ndarray`` (one probability per record), where
``records`` is a :class:`opslab.serve.schema.Batch` (validated records held by column, what the
server passes) or a list of valid record dicts. ``NumpyPipeline`` compiles the course's
scikit-learn pipeline (scaler + one-hot + classifier) into array lookups once, at load time, so a
request never builds a DataFrame and is scored in one pass over whole columns; it is checked
against the pipeline itself before use and any other pipeline falls back to ``FramePipeline``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from opslab.data import FEATURES, NUMERIC_FEATURES
from opslab.serve.schema import Batch


def _churn_column(classes) -> int:
    classes = list(classes)
    return classes.index(1) if 1 in classes else len(classes) - 1


class FramePipeline:
    """Any scikit-learn model with ``predict_proba``: one DataFrame per request (the slow, general path)."""

    kind = "sklearn (DataFrame)"

    def __init__(self, model):
        self.model = model
        self.column = _churn_column(getattr(model, "classes_", [0, 1]))

    def predict_proba(self, records: Batch | list[dict]) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame.from_records(Batch.of(records).records, columns=FEATURES)
        return np.asarray(self.model.predict_proba(frame))[:, self.column]


class NumpyPipeline:
    """A fitted ``Pipeline([ColumnTransformer(StandardScaler | OneHotEncoder | passthrough), clf])``
    rewritten as numpy: scale numbers with the fitted mean/scale, one-hot strings by dict lookup,
    then call the classifier (or, for a linear one, a dot product and a sigmoid)."""

    kind = "sklearn (numpy fast path)"
    fast = True  # microseconds per record: the server calls it on its event loop, without a thread hop

    def __init__(self, pipeline):
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        steps = pipeline.steps
        if len(steps) != 2 or not isinstance(steps[0][1], ColumnTransformer):
            raise TypeError("not a ColumnTransformer + classifier pipeline")
        transformer, self.classifier = steps[0][1], steps[1][1]
        self.parts: list[
            tuple
        ] = []  # ("numeric", [feature], mean, scale) | ("onehot", feature, {value: column}, width)
        for name, step, columns in transformer.transformers_:
            if name == "remainder":
                if step != "drop" and len(columns):
                    raise TypeError("remainder columns are not dropped")
                continue
            columns = list(columns)
            if isinstance(step, StandardScaler) and set(columns) <= set(NUMERIC_FEATURES):
                mean = step.mean_ if step.with_mean else np.zeros(len(columns))
                scale = step.scale_ if step.with_std else np.ones(len(columns))
                self.parts.append(("numeric", columns, np.asarray(mean, float), np.asarray(scale, float)))
            elif step == "passthrough" and set(columns) <= set(NUMERIC_FEATURES):
                self.parts.append(("numeric", columns, np.zeros(len(columns)), np.ones(len(columns))))
            elif isinstance(step, OneHotEncoder) and step.drop is None:
                for column, cats in zip(columns, step.categories_, strict=True):
                    self.parts.append(("onehot", column, {str(v): i for i, v in enumerate(cats)}, len(cats)))
            else:
                raise TypeError(f"step {name!r} ({type(step).__name__}) has no numpy rewrite")
        self.width = sum(len(p[1]) if p[0] == "numeric" else p[3] for p in self.parts)
        self.column = _churn_column(self.classifier.classes_)
        linear = isinstance(self.classifier, LogisticRegression) and len(self.classifier.classes_) == 2
        self.coef = self.classifier.coef_[0].astype(float) if linear else None
        self.intercept = float(self.classifier.intercept_[0]) if linear else 0.0

        # For a linear classifier, z = intercept + scaled numbers . their weights + the weight of each
        # record's category in each categorical feature: no one-hot matrix is built at all.
        # ("numeric", [j in NUMERIC_FEATURES], mean, scale, weights) | ("onehot", feature, {value: weight})
        self.weights: list[tuple] = []
        if self.coef is not None:
            at = 0
            for part in self.parts:
                if part[0] == "numeric":
                    _, columns, mean, scale = part
                    where = [NUMERIC_FEATURES.index(c) for c in columns]
                    self.weights.append(("numeric", where, mean, scale, self.coef[at : at + len(columns)]))
                    at += len(columns)
                else:
                    _, column, index, width = part
                    table = {value: float(self.coef[at + i]) for value, i in index.items()}
                    self.weights.append(("onehot", column, table))
                    at += width

    def transform(self, records: Batch | list[dict]) -> np.ndarray:
        """The pipeline's feature matrix for ``records``, built column by column."""
        batch = Batch.of(records)
        out = np.zeros((len(batch), self.width))
        at = 0
        rows = np.arange(len(batch))
        for part in self.parts:
            if part[0] == "numeric":
                _, columns, mean, scale = part
                values = batch.numeric[:, [NUMERIC_FEATURES.index(c) for c in columns]]
                out[:, at : at + len(columns)] = (values - mean) / scale
                at += len(columns)
            else:
                _, column, index, width = part
                hits = np.fromiter(map(index.get, batch.columns[column], _minus_ones(len(batch))), int, len(batch))
                known = hits >= 0  # an unknown category is all zeros, as handle_unknown="ignore"
                out[rows[known], at + hits[known]] = 1.0
                at += width
        return out

    def predict_proba(self, records: Batch | list[dict]) -> np.ndarray:
        batch = Batch.of(records)
        if self.coef is not None and len(batch) == 1:
            return np.array([self._one(batch.columns)])
        if self.coef is not None:
            z = np.full(len(batch), self.intercept)
            for part in self.weights:
                if part[0] == "numeric":
                    _, where, mean, scale, weights = part
                    z += ((batch.numeric[:, where] - mean) / scale) @ weights
                else:
                    z += np.fromiter(map(part[2].get, batch.columns[part[1]], _zeros(len(batch))), float, len(batch))
            p1 = expit(z)  # no overflow warning for extreme inputs
            return p1 if self.column == 1 else 1.0 - p1
        return np.asarray(self.classifier.predict_proba(self.transform(batch)))[:, self.column]


    def _one(self, columns: dict[str, tuple]) -> float:
        """One record's probability in plain Python floats: for a single record, numpy's per-call
        overhead (microseconds per operation) costs more than the arithmetic."""
        z = self.intercept
        for part in self.weights:
            if part[0] == "numeric":
                _, where, mean, scale, weights = part
                for j, m, s, w in zip(where, mean.tolist(), scale.tolist(), weights.tolist(), strict=False):
                    z += (float(columns[NUMERIC_FEATURES[j]][0]) - m) / s * w
            else:
                z += part[2].get(columns[part[1]][0], 0.0)
        p1 = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))  # no overflow
        return p1 if self.column == 1 else 1.0 - p1


def _minus_ones(n: int):
    return (-1,) * n


def _zeros(n: int):
    return (0.0,) * n


def sklearn_predictor(model, probe: list[dict]):
    """The fastest predictor that gives the same probabilities as ``model`` on ``probe`` records."""
    slow = FramePipeline(model)
    try:
        fast = NumpyPipeline(model)
    except (TypeError, AttributeError, ValueError):
        return slow
    one_by_one = np.concatenate([fast.predict_proba(probe[i : i + 1]) for i in range(len(probe))])
    expected = slow.predict_proba(probe)
    if np.allclose(fast.predict_proba(probe), expected, rtol=0, atol=1e-9) and np.allclose(
        one_by_one, expected, rtol=0, atol=1e-9
    ):  # the batch path and the single-record path both
        return fast
    return slow


class OnnxPredictor:
    """An ONNX model with one input per feature (skl2onnx's layout for a DataFrame pipeline)."""

    kind = "onnx (onnxruntime)"

    def __init__(self, path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        inputs = {i.name: i.type for i in self.session.get_inputs()}
        missing = [f for f in FEATURES if f not in inputs]
        if missing:
            raise ValueError(
                f"{path}: the ONNX model needs one input per feature; missing inputs {', '.join(missing)} "
                f"(it has {', '.join(inputs)})"
            )
        dtypes = {
            "tensor(float)": np.float32,
            "tensor(double)": np.float64,
            "tensor(int64)": np.int64,
            "tensor(string)": object,
        }
        self.inputs = [(f, dtypes.get(inputs[f], object)) for f in FEATURES]
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = "probabilities" if "probabilities" in outputs else outputs[-1]

    def predict_proba(self, records: Batch | list[dict]) -> np.ndarray:
        columns = Batch.of(records).columns
        feed = {f: np.array(columns[f], dtype=dtype).reshape(-1, 1) for f, dtype in self.inputs}
        proba = self.session.run([self.output], feed)[0]
        if isinstance(proba, list):  # a ZipMap output: a list of {class: p}
            return np.array([row.get(1, row.get("1", 0.0)) for row in proba], dtype=float)
        proba = np.asarray(proba, dtype=float)
        return proba[:, -1] if proba.ndim == 2 else proba


class PyfuncPredictor:
    """Any MLflow pyfunc model whose ``predict`` returns P(churn) or a two-column probability table."""

    kind = "mlflow pyfunc"

    def __init__(self, model):
        self.model = model

    def predict_proba(self, records: Batch | list[dict]) -> np.ndarray:
        import pandas as pd

        out = np.asarray(
            self.model.predict(pd.DataFrame.from_records(Batch.of(records).records, columns=FEATURES)), dtype=float
        )
        return out[:, -1] if out.ndim == 2 else out

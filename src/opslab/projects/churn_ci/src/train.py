"""train: fit the churn model on data/prepared/train.csv and save it to models/model.pkl."""

import pickle
from pathlib import Path

import pandas as pd
from features import CATEGORICAL, CATEGORIES, NUMERIC, TARGET, params
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def build(settings: dict) -> Pipeline:
    dropped = set(settings.get("drop_features") or [])
    numeric = [c for c in NUMERIC if c not in dropped]
    categorical = [c for c in CATEGORICAL if c not in dropped]
    prep = ColumnTransformer([
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(categories=[CATEGORIES[c] for c in categorical], handle_unknown="ignore"),
         categorical),
    ])
    clf = LogisticRegression(C=float(settings["C"]), max_iter=int(settings["max_iter"]))
    return Pipeline([("prep", prep), ("clf", clf)])


if __name__ == "__main__":
    settings = params("train")
    train = pd.read_csv("data/prepared/train.csv")
    model = build(settings).fit(train.drop(columns=[TARGET]), train[TARGET])
    Path("models").mkdir(exist_ok=True)
    with open("models/model.pkl", "wb") as f:
        pickle.dump(model, f)
    print(f"train: fitted on {len(train)} rows, dropped features: {settings.get('drop_features') or 'none'}")

"""The project's tests read the pipeline's outputs: run them after `dvc repro` (ci/run.py does)."""

import pickle
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


@pytest.fixture(scope="session")
def raw():
    return pd.read_csv(ROOT / "data/raw/customers.csv")


@pytest.fixture(scope="session")
def test_set():
    return pd.read_csv(ROOT / "data/prepared/test.csv")


@pytest.fixture(scope="session")
def model():
    with open(ROOT / "models/model.pkl", "rb") as f:
        return pickle.load(f)

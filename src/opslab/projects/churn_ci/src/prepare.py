"""prepare: split the raw snapshot into train and test sets (stratified, seeded)."""

import sys
from pathlib import Path

import pandas as pd
from features import FEATURES, TARGET, params
from sklearn.model_selection import train_test_split

settings = params("prepare")
raw = Path("data/raw/customers.csv")
if not raw.exists():
    sys.exit(f"prepare: {raw} is missing: get it with `dvc pull` (or `python src/extract.py`)")
df = pd.read_csv(raw)
missing = [c for c in FEATURES + [TARGET] if c not in df.columns]
if missing:
    sys.exit(f"prepare: {raw} lacks the columns {missing}")
train, test = train_test_split(df, test_size=settings["test_size"], random_state=settings["seed"],
                               stratify=df[TARGET])
out = Path("data/prepared")
out.mkdir(parents=True, exist_ok=True)
train.to_csv(out / "train.csv", index=False)
test.to_csv(out / "test.csv", index=False)
print(f"prepare: {len(train)} training and {len(test)} test rows")

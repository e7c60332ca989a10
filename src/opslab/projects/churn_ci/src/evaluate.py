"""evaluate: score models/model.pkl on the test set; write metrics/scores.json and the ROC curve."""

import json
import pickle
from pathlib import Path

import pandas as pd
from features import TARGET
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score, roc_curve

test = pd.read_csv("data/prepared/test.csv")
with open("models/model.pkl", "rb") as f:
    model = pickle.load(f)
p = model.predict_proba(test.drop(columns=[TARGET]))[:, 1]
y = test[TARGET]
scores = {
    "roc_auc": round(float(roc_auc_score(y, p)), 4),
    "accuracy": round(float(accuracy_score(y, p >= 0.5)), 4),
    "f1": round(float(f1_score(y, p >= 0.5)), 4),
    "log_loss": round(float(log_loss(y, p)), 4),
}
Path("metrics").mkdir(exist_ok=True)
Path("metrics/scores.json").write_text(json.dumps(scores, indent=2) + "\n")
fpr, tpr, _ = roc_curve(y, p)
step = max(len(fpr) // 50, 1)  # 50 points are plenty for a plot and keep the diff small
pd.DataFrame({"fpr": fpr[::step].round(4), "tpr": tpr[::step].round(4)}).to_csv("metrics/roc.csv", index=False)
print("evaluate:", scores)

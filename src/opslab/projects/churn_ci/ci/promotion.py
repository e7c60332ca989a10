"""The promotion gate: may the challenger replace the champion? (ci/promote.py calls it.)

This first version compares the two models' AUC on the same holdout, and nothing else: a challenger
that ranks customers at least as well is promoted. Make it stricter as the project learns what
matters (a minimum gain, no segment left behind, calibration).
"""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import roc_auc_score

TARGET = "churned"


def promotion_gate(challenger, champion, holdout: pd.DataFrame, rules: dict) -> tuple[bool, list[str]]:
    """(passed, reasons): both models scored on ``holdout``; one reason per broken rule."""
    X, y = holdout.drop(columns=[TARGET]), holdout[TARGET]
    new, old = (roc_auc_score(y, model.predict_proba(X)[:, 1]) for model in (challenger, champion))
    reasons = [f"auc: the challenger's AUC {new:.4f} is below the champion's {old:.4f}"] if new < old else []
    return not reasons, reasons

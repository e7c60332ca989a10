"""Model tests: behaviour a churn model must have, whatever its exact numbers (CheckList-style)."""

import numpy as np
from features import TARGET


def proba(model, frame):
    return model.predict_proba(frame.drop(columns=[TARGET], errors="ignore"))[:, 1]


def test_invariance_region_does_not_move_predictions(model, test_set):
    """Region carries no signal: moving every customer to another region barely changes a score."""
    base = proba(model, test_set)
    for region in ["north", "south", "east", "west"]:
        moved = proba(model, test_set.assign(region=region))
        assert np.abs(moved - base).max() < 0.05, f"region={region} moves a score by {np.abs(moved - base).max():.3f}"


def test_more_payment_failures_raise_churn_risk(model, test_set):
    """Directional expectation: two more failed payments never lower the risk, and usually raise it."""
    base = proba(model, test_set)
    worse = proba(model, test_set.assign(payment_failures_90d=test_set.payment_failures_90d + 2))
    assert (worse >= base - 1e-9).all(), "more payment failures lowered some customer's risk"
    assert (worse - base).mean() > 0.02, f"two more payment failures raise the risk by only {(worse - base).mean():.3f}"


def test_longer_tenure_lowers_churn_risk(model, test_set):
    base = proba(model, test_set)
    loyal = proba(model, test_set.assign(tenure_months=test_set.tenure_months + 36))
    assert (loyal - base).mean() < -0.02, f"three more years of tenure change the risk by {(loyal - base).mean():+.3f}"


def test_obvious_cases(model):
    """Minimum functionality: a loyal, engaged customer is safe; a neglected, unhappy one is at risk."""
    import pandas as pd

    loyal = dict(age=45, tenure_months=72, monthly_charges=45.0, sessions_per_week=8.0, avg_session_minutes=20.0,
                 support_tickets_90d=0, payment_failures_90d=0, days_since_last_login=1, plan="premium",
                 contract="two_year", payment_method="card", region="north")
    unhappy = dict(loyal, tenure_months=1, monthly_charges=110.0, sessions_per_week=0.5, support_tickets_90d=5,
                   payment_failures_90d=3, days_since_last_login=40, plan="basic", contract="monthly")
    p = proba(model, pd.DataFrame([loyal, unhappy]))
    assert p[0] < 0.1, f"a loyal, engaged customer gets P(churn) = {p[0]:.2f}"
    assert p[1] > 0.8, f"a neglected, unhappy customer gets P(churn) = {p[1]:.2f}"

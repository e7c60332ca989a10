import numpy as np
import pandas as pd
import pytest

from opslab import data


def test_same_seed_same_customers():
    pd.testing.assert_frame_equal(data.make_customers(500, seed=3), data.make_customers(500, seed=3))


def test_different_seed_different_customers():
    assert not data.make_customers(500, seed=1).equals(data.make_customers(500, seed=2))


def test_customers_have_the_documented_columns_and_types():
    df = data.make_customers(1000)
    assert list(df.columns) == data.FEATURES + [data.TARGET]
    assert df[data.NUMERIC_FEATURES].notna().all().all()
    for column, values in data.CATEGORIES.items():
        assert set(df[column]) <= set(values)
    assert set(df[data.TARGET]) == {0, 1}
    assert 0.1 < df[data.TARGET].mean() < 0.35


def test_labels_follow_the_ground_truth():
    df = data.make_customers(20000, seed=0)
    p = 1 / (1 + np.exp(-data.churn_logit(df)))
    # customers the ground truth calls risky do churn more, and the overall rate matches
    assert df.loc[p > 0.5, data.TARGET].mean() > 0.6 > df.loc[p < 0.1, data.TARGET].mean()
    assert abs(df[data.TARGET].mean() - p.mean()) < 0.01


def test_traffic_is_deterministic_per_day_and_scenario():
    a = data.make_traffic(days=5, scenario="sudden", n_per_day=100, seed=7, onset=2)
    b = data.make_traffic(days=5, scenario="sudden", n_per_day=100, seed=7, onset=2)
    pd.testing.assert_frame_equal(a, b)
    assert sorted(a["day"].unique()) == [0, 1, 2, 3, 4]


def test_no_drift_traffic_matches_the_training_world():
    train = data.make_customers(5000)
    traffic = data.make_traffic(days=10, scenario="none", n_per_day=500)
    assert abs(train["monthly_charges"].mean() - traffic["monthly_charges"].mean()) < 1.5


def test_gradual_drift_grows_with_time():
    t = data.make_traffic(days=20, scenario="gradual", n_per_day=1000)
    charges = t.groupby("day")["monthly_charges"].mean()
    assert charges.iloc[-1] - charges.iloc[0] > 15
    assert charges.iloc[10] - charges.iloc[0] > 5


def test_sudden_shift_starts_on_onset():
    t = data.make_traffic(days=6, scenario="sudden", n_per_day=1000, onset=3)
    charges = t.groupby("day")["monthly_charges"].mean()
    assert charges.loc[:2].max() < 65 < 80 < charges.loc[3:].min()


def test_concept_drift_changes_labels_not_features():
    t = data.make_traffic(days=20, scenario="concept", n_per_day=1000, onset=5)
    before, after = t[t.day < 5], t[t.day >= 12]
    assert abs(before["tenure_months"].mean() - after["tenure_months"].mean()) < 1.5
    # loyal customers now leave: churn among long-tenure customers rises sharply
    loyal = lambda frame: frame.loc[frame.tenure_months > 36, data.TARGET].mean()  # noqa: E731
    assert loyal(after) > loyal(before) + 0.2


def test_campaign_brings_new_young_monthly_customers_from_onset_under_the_same_ground_truth():
    t = data.make_traffic(days=6, scenario="campaign", n_per_day=1000, onset=3)
    before, after = t[t.day < 3], t[t.day >= 3]
    assert before["tenure_months"].mean() > 2 * after["tenure_months"].mean()
    assert before["age"].mean() > after["age"].mean() + 6
    assert (after["contract"] == "monthly").mean() > (before["contract"] == "monthly").mean() + 0.2
    # the world's rules are unchanged: the labels still follow the ground truth's probabilities
    p = 1 / (1 + np.exp(-data.churn_logit(after)))
    assert abs(after[data.TARGET].mean() - p.mean()) < 0.02


def test_quality_incidents_break_the_contract():
    days = [data.production_day(d, "quality", n=300, onset=1) for d in range(5)]
    assert list(days[0].columns) == ["day"] + data.FEATURES + [data.TARGET]  # before onset: clean
    assert days[1]["monthly_charges"].isna().mean() > 0.3  # nulls
    assert days[2]["monthly_charges"].max() > 1000  # unit bug outliers
    assert "tenure" in days[3].columns and "tenure_months" not in days[3].columns  # rename
    assert "days_since_last_login" not in days[4].columns  # missing column


def test_unknown_scenario_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scenario 'storm'"):
        data.production_day(0, "storm")

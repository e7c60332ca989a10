"""Data tests: the snapshot has the columns, types and ranges the model was built for."""

import pandera.pandas as pa
from features import CATEGORIES, TARGET

SCHEMA = pa.DataFrameSchema(
    {
        "age": pa.Column(int, pa.Check.in_range(18, 100)),
        "tenure_months": pa.Column(int, pa.Check.in_range(0, 240)),
        "monthly_charges": pa.Column(float, pa.Check.in_range(0, 500)),
        "sessions_per_week": pa.Column(float, pa.Check.in_range(0, 100)),
        "avg_session_minutes": pa.Column(float, pa.Check.in_range(0, 1440)),
        "support_tickets_90d": pa.Column(int, pa.Check.ge(0)),
        "payment_failures_90d": pa.Column(int, pa.Check.ge(0)),
        "days_since_last_login": pa.Column(int, pa.Check.in_range(0, 365)),
        **{name: pa.Column(str, pa.Check.isin(values)) for name, values in CATEGORIES.items()},
        TARGET: pa.Column(int, pa.Check.isin([0, 1])),
    },
    strict=True,
    coerce=False,
)


def test_snapshot_matches_the_schema(raw):
    SCHEMA.validate(raw, lazy=True)  # lazy: one error listing every failing column and check


def test_snapshot_is_big_enough_and_has_both_classes(raw):
    assert len(raw) >= 1000, f"only {len(raw)} rows"
    assert 0.05 < raw[TARGET].mean() < 0.6, f"churn rate {raw[TARGET].mean():.2f} is implausible"

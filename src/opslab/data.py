"""The course's running example: a seeded simulator of a subscription business's customers.

Every lab trains on the same synthetic world, so nothing is ever downloaded. A customer has
twelve features and a churn label drawn from a documented ground-truth model (below). The same
simulator also produces *production traffic* day by day under named scenarios, so monitoring
labs can watch a deployed model meet drift and data-quality incidents.

Learner-facing API: :func:`make_customers` and :func:`make_traffic`.

Ground truth (before a scenario changes it): the log-odds of churning are

    logit = -1.1
            - 0.045 * tenure_months          (loyal customers stay)
            + 0.030 * (monthly_charges - 60) (price sensitivity)
            + 1.5   * (monthly_charges > 95)     (a price point customers will not accept)
            - 0.25  * sessions_per_week      (engaged customers stay)
            + 0.35  * support_tickets_90d    (friction)
            + 0.60  * payment_failures_90d
            + 0.035 * days_since_last_login
            - 0.010 * (age - 40)
            + contract effect: monthly +0.9, annual 0.0, two_year -1.0
            + plan effect:     basic +0.3, standard 0.0, premium -0.2

and ``churned ~ Bernoulli(sigmoid(logit))``, so even a perfect model cannot be perfect.
``avg_session_minutes``, ``payment_method`` and ``region`` carry no signal of their own. The price
threshold is rare in the training world (few customers pay over 95), so a linear model barely sees
it, and it matters once prices drift upwards.

In the ``concept`` scenario the relation itself changes: a competitor targets loyal customers, so
tenure stops protecting (its weight becomes +0.03), long contracts no longer hold customers,
support tickets stop mattering, and price sensitivity triples.

The ``campaign`` scenario is the capstone's: from ``onset`` a marketing campaign brings in a wave of
new customers, younger, on monthly contracts and introductory prices, who have barely used the
product yet. The population moves (tenure, age, contract, charges, sessions); the ground truth
does not, so the model meets customers it rarely saw in training.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

NUMERIC_FEATURES = [
    "age",
    "tenure_months",
    "monthly_charges",
    "sessions_per_week",
    "avg_session_minutes",
    "support_tickets_90d",
    "payment_failures_90d",
    "days_since_last_login",
]
CATEGORICAL_FEATURES = ["plan", "contract", "payment_method", "region"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
TARGET = "churned"

CATEGORIES = {
    "plan": ["basic", "standard", "premium"],
    "contract": ["monthly", "annual", "two_year"],
    "payment_method": ["card", "bank_transfer", "paypal"],
    "region": ["north", "south", "east", "west"],
}

GROUND_TRUTH = {
    "intercept": -1.1,
    "tenure_months": -0.045,
    "monthly_charges": 0.030,  # applied to (monthly_charges - 60)
    "price_threshold": 1.5,  # added when monthly_charges > 95
    "sessions_per_week": -0.25,
    "support_tickets_90d": 0.35,
    "payment_failures_90d": 0.60,
    "days_since_last_login": 0.035,
    "age": -0.010,  # applied to (age - 40)
    "contract": {"monthly": 0.9, "annual": 0.0, "two_year": -1.0},
    "plan": {"basic": 0.3, "standard": 0.0, "premium": -0.2},
}

SCENARIOS = ("none", "gradual", "sudden", "concept", "quality", "campaign")

# What each numeric feature can possibly be (not what is plausible): the lab server refuses values
# outside these ranges (422), and nothing inside them can overflow the model's arithmetic or the
# server's input statistics (sums of squares stay below 1e30 after a billion records). They are wide
# on purpose: the simulator's customers fall far inside them, and so do the ``quality`` scenario's
# outliers (its unit bug multiplies monthly_charges by 100, up to 20,000), which monitoring must see.
FEATURE_LIMITS = {
    "age": (0, 150),  # years
    "tenure_months": (0, 1_200),  # a century
    "monthly_charges": (0, 1_000_000),  # simulator 10 to 200; a price in cents by mistake is 1,000 to 20,000
    "sessions_per_week": (0, 10_000),
    "avg_session_minutes": (0, 10_080),  # the minutes in a week
    "support_tickets_90d": (0, 100_000),
    "payment_failures_90d": (0, 100_000),
    "days_since_last_login": (0, 36_500),  # a century
}

# One customer, for examples: the lab server's documentation, its probe records, the demo's form
# (a new, unhappy monthly subscriber).
EXAMPLE_RECORD = {
    "age": 42,
    "tenure_months": 3,
    "monthly_charges": 89.5,
    "sessions_per_week": 1.5,
    "avg_session_minutes": 12.0,
    "support_tickets_90d": 2,
    "payment_failures_90d": 1,
    "days_since_last_login": 20,
    "plan": "basic",
    "contract": "monthly",
    "payment_method": "card",
    "region": "north",
}


def _rng(*keys: object) -> np.random.Generator:
    """A generator seeded from any mix of ints and strings, stable across runs and platforms."""
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def _sample_features(rng: np.random.Generator, n: int, shift: dict[str, float]) -> pd.DataFrame:
    """Draw ``n`` customers; ``shift`` moves the population (0 everywhere means the training world)."""
    plan_p = np.array([0.45, 0.35, 0.20]) + shift.get("premium_mix", 0.0) * np.array([-1.0, 0.0, 1.0])
    contract_p = np.array([0.55, 0.30, 0.15]) + shift.get("monthly_mix", 0.0) * np.array([1.0, -0.5, -0.5])
    region_p = np.array([0.25, 0.25, 0.25, 0.25]) + shift.get("south_mix", 0.0) * np.array([-1, 3, -1, -1]) / 3
    df = pd.DataFrame(
        {
            "age": np.clip(rng.normal(40 + shift.get("age", 0.0), 12, n), 18, 85).round().astype(int),
            "tenure_months": np.clip(rng.gamma(2.0, 12.0, n) * (1 + shift.get("tenure_scale", 0.0)), 0, 120)
            .round()
            .astype(int),
            "monthly_charges": np.clip(rng.normal(60 + shift.get("charges", 0.0), 18, n), 10, 200).round(2),
            "sessions_per_week": np.clip(rng.gamma(3.0, 1.3, n) + shift.get("sessions", 0.0), 0, 40).round(1),
            "avg_session_minutes": np.clip(rng.lognormal(2.8, 0.5, n), 1, 240).round(1),
            "support_tickets_90d": rng.poisson(0.8 + shift.get("tickets", 0.0), n),
            "payment_failures_90d": rng.poisson(0.3, n),
            "days_since_last_login": np.clip(rng.exponential(6.0 + shift.get("inactive", 0.0), n), 0, 90)
            .round()
            .astype(int),
            "plan": rng.choice(CATEGORIES["plan"], n, p=plan_p / plan_p.sum()),
            "contract": rng.choice(CATEGORIES["contract"], n, p=contract_p / contract_p.sum()),
            "payment_method": rng.choice(CATEGORIES["payment_method"], n, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(CATEGORIES["region"], n, p=region_p / region_p.sum()),
        }
    )
    return df[FEATURES]


def churn_logit(df: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    """The ground-truth log-odds of churn. ``concept`` in [0, 1] blends in the changed world of
    the ``concept`` scenario (see the module docstring)."""
    g = GROUND_TRUTH
    logit = (
        g["intercept"]
        + (g["tenure_months"] * (1 - concept) + 0.03 * concept) * df["tenure_months"]
        + g["monthly_charges"] * (1 + 2 * concept) * (df["monthly_charges"] - 60)
        + g["price_threshold"] * (df["monthly_charges"] > 95)
        + g["sessions_per_week"] * df["sessions_per_week"]
        + g["support_tickets_90d"] * (1 - concept) * df["support_tickets_90d"]
        + g["payment_failures_90d"] * df["payment_failures_90d"]
        + g["days_since_last_login"] * df["days_since_last_login"]
        + g["age"] * (df["age"] - 40)
        + df["contract"].map(g["contract"]) * (1 - concept)
        + df["plan"].map(g["plan"])
    )
    return logit.to_numpy(dtype=float)


def _draw_labels(rng: np.random.Generator, df: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-churn_logit(df, concept)))
    return (rng.random(len(df)) < p).astype(int)


def make_customers(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Training data: ``n`` customers with the twelve features and the ``churned`` label (0/1).

    The same ``n`` and ``seed`` always give the same frame. About one customer in five churns.
    """
    rng = _rng("customers", seed)
    df = _sample_features(rng, n, shift={})
    df[TARGET] = _draw_labels(rng, df)
    return df


def _scenario_shift(scenario: str, day: int, onset: int, days: int) -> tuple[dict[str, float], float]:
    """The population shift and concept blend of ``scenario`` on ``day``."""
    if scenario == "gradual":
        t = min(day / max(days - 1, 1), 1.0)  # 0 on day 0, 1 on the last day
        return {"charges": 25 * t, "sessions": -1.5 * t, "age": -6 * t, "monthly_mix": 0.15 * t}, 0.0
    if scenario == "sudden" and day >= onset:
        return {"charges": 30.0, "south_mix": 0.4, "premium_mix": 0.15, "tickets": 1.0}, 0.0
    if scenario == "concept" and day >= onset:
        return {}, min((day - onset + 1) / 5, 1.0)
    if scenario == "campaign" and day >= onset:
        return {"tenure_scale": -0.75, "age": -9.0, "monthly_mix": 0.3, "charges": -12.0, "sessions": -1.0}, 0.0
    return {}, 0.0


def _quality_incident(rng: np.random.Generator, df: pd.DataFrame, day: int, onset: int) -> pd.DataFrame:
    """Data-quality incidents that a pipeline upstream of the model might cause, one kind a day."""
    if day < onset:
        return df
    kind = (day - onset) % 4
    df = df.copy()
    if kind == 0:  # a feature arrives half empty
        df.loc[rng.random(len(df)) < 0.5, "monthly_charges"] = np.nan
    elif kind == 1:  # a unit bug: charges in cents for a tenth of rows
        rows = rng.random(len(df)) < 0.1
        df.loc[rows, "monthly_charges"] = df.loc[rows, "monthly_charges"] * 100
    elif kind == 2:  # an upstream rename
        df = df.rename(columns={"tenure_months": "tenure"})
    else:  # a column goes missing altogether
        df = df.drop(columns=["days_since_last_login"])
    return df


def production_day(day: int, scenario: str = "none", n: int = 500, seed: int = 0, onset: int = 10, days: int = 30):
    """One day of production traffic: features, the eventually known ``churned`` label, and ``day``.

    ``onset`` is the day on which ``sudden``, ``concept``, ``quality`` and ``campaign`` begin; ``gradual`` drifts
    linearly from day 0 to day ``days - 1``. Labels follow the ground truth of that day's world.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    rng = _rng("traffic", seed, scenario, day)
    shift, concept = _scenario_shift(scenario, day, onset, days)
    df = _sample_features(rng, n, shift)
    df[TARGET] = _draw_labels(rng, df, concept)
    if scenario == "quality":
        df = _quality_incident(rng, df, day, onset)
    df.insert(0, "day", day)
    return df


def make_traffic(
    days: int = 30, scenario: str = "none", n_per_day: int = 500, seed: int = 0, onset: int = 10
) -> pd.DataFrame:
    """``days`` days of production traffic under ``scenario`` (one of :data:`SCENARIOS`), one frame
    with a ``day`` column. Scenarios: ``none`` (the training world), ``gradual`` covariate drift,
    ``sudden`` shift on day ``onset``, ``concept`` drift (the label relation changes from ``onset``),
    ``quality`` incidents from ``onset`` (nulls, outliers, a renamed and a missing column),
    ``campaign`` a wave of new, young, monthly customers from ``onset`` (the capstone's scenario).

    Quality days can have different columns; the frame then holds the union (absent values NaN).
    """
    frames = [production_day(d, scenario, n_per_day, seed, onset, days) for d in range(days)]
    return pd.concat(frames, ignore_index=True)

"""What the model sees: the columns of the warehouse snapshot, and how params.yaml is read."""

from pathlib import Path

import yaml

NUMERIC = [
    "age", "tenure_months", "monthly_charges", "sessions_per_week", "avg_session_minutes",
    "support_tickets_90d", "payment_failures_90d", "days_since_last_login",
]
CATEGORICAL = ["plan", "contract", "payment_method", "region"]
CATEGORIES = {
    "plan": ["basic", "standard", "premium"],
    "contract": ["monthly", "annual", "two_year"],
    "payment_method": ["card", "bank_transfer", "paypal"],
    "region": ["north", "south", "east", "west"],
}
FEATURES = NUMERIC + CATEGORICAL
TARGET = "churned"


def params(section: str) -> dict:
    """One section of params.yaml (the file DVC reads too)."""
    return yaml.safe_load(Path("params.yaml").read_text())[section]

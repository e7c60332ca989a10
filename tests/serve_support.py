"""Shared by the test_serve_* files: a trained course registry and sample records."""

from __future__ import annotations

from opslab.data import FEATURES, make_customers

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}  # /admin/* and /predictions


def ensure_champion():
    """Train and register the default model in this session's OPSLAB_HOME (idempotent, so only the
    first caller in a session pays for it)."""
    from opslab.train import train_and_register

    return train_and_register(quiet=True)


def sample_records(n: int = 5, seed: int = 1) -> list[dict]:
    frame = make_customers(n=n, seed=seed)[FEATURES]
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]

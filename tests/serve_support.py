"""Shared by the test_serve_* files: a trained course registry and sample records."""

from __future__ import annotations

import time

import httpx

from opslab.data import FEATURES, make_customers

TOKEN = "test-admin-token"


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


def answers_by_pid(metrics_dir, endpoint: str) -> dict[str, float]:
    """How many requests to ``endpoint`` each worker (pid) of a multi-worker server has answered so far,
    from the workers' own counter files."""
    from prometheus_client.mmap_dict import MmapedDict

    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.split("_")[1]
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if f'"endpoint": "{endpoint}"' in key and '"opslab_requests_total"' in key:
                counts[pid] = counts.get(pid, 0) + value
    return counts


def every_worker(lab, metrics_dir, check, workers: int = 2, timeout: float = 60.0) -> None:
    """Ask /model on new connections (the kernel gives each to any worker) until every worker has answered
    with ``check(card)`` true since this call began; AssertionError if not within ``timeout``. Each answer
    is told apart by the counter file of the worker that gave it."""
    start = answers_by_pid(metrics_dir, "/model")
    deadline, good, card = time.monotonic() + timeout, set(), None
    while time.monotonic() < deadline:
        before = answers_by_pid(metrics_dir, "/model")
        card = httpx.get(f"{lab.url}/model", timeout=30).json()
        after = answers_by_pid(metrics_dir, "/model")
        moved = [p for p, n in after.items() if n > before.get(p, 0)]
        if len(moved) == 1 and after[moved[0]] > start.get(moved[0], 0):
            (good.add if check(card) else good.discard)(moved[0])
        if len(good) == workers:
            return
        time.sleep(0.05)
    raise AssertionError(f"not every worker came to serve what was chosen within {timeout:g} s; last card {card}")

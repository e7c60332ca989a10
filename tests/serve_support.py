"""Shared by the test_serve_* files: a trained course registry and sample records."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import once_per_run
from opslab.data import FEATURES, make_customers

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}  # /admin/* and /predictions


def ensure_champion():
    """The default model registered as the champion in this session's OPSLAB_HOME (idempotent). Trained once
    per pytest run, by ``opslab train`` in a home of the run's shared folder; each worker's registry starts as
    a copy of that one (see seed_registry), so the training below finds its champion and does nothing."""
    from opslab.registry import registry_dir
    from opslab.train import train_and_register

    if not (registry_dir() / "mlflow.db").exists():
        seed_registry(registry_dir())
    return train_and_register(quiet=True)


def train_champion(folder: Path) -> None:
    """``opslab train`` with ``folder/home`` as its OPSLAB_HOME, exactly as a learner runs it."""
    done = subprocess.run([sys.executable, "-m", "opslab", "train"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OPSLAB_HOME": str(folder / "home")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def seed_registry(registry: Path) -> None:
    """Make ``registry`` a copy of the run's trained registry: its files copied, and every path of the original
    the MLflow store holds (artifact locations, sources) re-pointed at the copy, which is then on its own."""
    trained = (once_per_run("trained-champion", train_champion) / "home" / "registry").resolve()
    registry = registry.resolve()
    shutil.copytree(trained, registry, dirs_exist_ok=True)
    moves = [(trained.as_uri(), registry.as_uri()), (str(trained), str(registry))]
    with sqlite3.connect(registry / "mlflow.db") as db:
        texts = [(table, column[1]) for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                 for column in db.execute(f'PRAGMA table_info("{table}")')]
        for table, column in texts:
            for old, new in moves:
                db.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                           f'WHERE typeof("{column}") = ? AND instr("{column}", ?) > 0', (old, new, "text", old))
        left = [(table, column) for table, column in texts
                if db.execute(f'SELECT 1 FROM "{table}" WHERE typeof("{column}") = ? AND instr("{column}", ?) > 0',
                              ("text", str(trained))).fetchone()]
    for path in (p for p in registry.rglob("*") if p.is_file() and p.name != "mlflow.db"):
        data = path.read_bytes()  # the model's own files: its MLmodel records where it was logged
        if str(trained).encode() not in data:
            continue
        try:
            text = data.decode()
        except UnicodeDecodeError:  # a binary file (a pickle) is not rewritten: its lengths would break
            left.append(str(path))
            continue
        for old, new in moves:
            text = text.replace(old, new)
        path.write_text(text)
    assert not left, f"the copied registry still points at the original in {left}"


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

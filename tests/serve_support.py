"""Shared by the test_serve_* files: a trained course registry and a real `opslab serve` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from opslab.data import FEATURES, make_customers

REPO = Path(__file__).resolve().parents[1]
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    port: int, data_dir: Path, model_uri: str | None = None, token: str = TOKEN, timeout: float = 60.0
) -> subprocess.Popen:
    """`opslab serve` in its own process on 127.0.0.1:port; returns once /ready answers 200."""
    env = {**os.environ, "OPSLAB_ADMIN_TOKEN": token, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "opslab", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if model_uri:
        cmd += ["--model-uri", model_uri]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"opslab serve exited with {process.returncode}: {process.stdout.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"opslab serve on port {port} was not ready within {timeout} s")


def stop_server(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout:
        process.stdout.close()


@contextmanager
def running_server(port: int, data_dir: Path, **kwargs):
    process = start_server(port, data_dir, **kwargs)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)

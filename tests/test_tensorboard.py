"""TensorBoard: event files written with tensorboardX are served by `tensorboard --logdir` on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tensorboardX import SummaryWriter

from opslab.mlflow_server import free_port, venv_bin


@pytest.fixture
def logdir(tmp_path):
    with SummaryWriter(logdir=str(tmp_path / "run-a")) as writer:
        for step in range(1, 4):
            writer.add_scalar("loss/train", 1.0 / step, step)
    return tmp_path


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_tensorboard_serves_the_logdir_on_loopback(logdir):
    port = free_port()
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    process = subprocess.Popen([venv_bin("tensorboard"), "--logdir", str(logdir), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, page = _get(f"http://127.0.0.1:{port}/")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert status == 200, f"tensorboard did not serve / (exit code {process.poll()})"
        assert b"<html" in page.lower() or b"<!doctype html" in page.lower()
        for _ in range(50):  # the first scan of the logdir happens in the background
            runs = json.loads(_get(f"http://127.0.0.1:{port}/data/runs")[1])
            if runs:
                break
            time.sleep(0.2)
        assert runs == ["run-a"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

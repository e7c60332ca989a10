"""Fixtures that start the real lab server and the real demo as child processes (imported by tests).

A test module does ``from servers import lab_server_url  # noqa: F401`` and gets its own
module-scoped processes on free ports, stopped when the module ends.
"""

from __future__ import annotations

import subprocess

import pytest

from opslab.background import BackgroundServer, free_port, opslab_command


def train_default_model() -> None:
    """``opslab train`` into the session's OPSLAB_HOME (a no-op once the champion exists)."""
    done = subprocess.run(opslab_command("train"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"opslab train failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def lab_server_url(offline_lab_home):
    """The URL of a real lab server (uvicorn) serving churn-classifier@champion."""
    train_default_model()
    port = free_port()
    with BackgroundServer(opslab_command("serve", "--host", "127.0.0.1", "--port", str(port)),
                          f"http://127.0.0.1:{port}/ready", timeout=120):
        yield f"http://127.0.0.1:{port}"


def start_demo(server_url: str) -> BackgroundServer:
    port = free_port()
    return BackgroundServer(opslab_command("demo", "--server-url", server_url, "--port", str(port)),
                            f"http://127.0.0.1:{port}/", timeout=120)


@pytest.fixture(scope="module")
def demo_url(lab_server_url):
    """The URL of ``opslab demo`` (a real Gradio server) talking to the module's lab server."""
    with start_demo(lab_server_url) as demo:
        yield demo.ready_url

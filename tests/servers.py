"""Fixtures that start the real lab server and the real demo as child processes (imported by tests).

A test module does ``from servers import lab_server_url  # noqa: F401`` and gets its own
module-scoped processes on free ports, stopped when the module ends.
"""

from __future__ import annotations

import pytest

from opslab.background import BackgroundServer, free_port, opslab_command
from opslab.serve.process import LabServer
from serve_support import TOKEN, ensure_champion


@pytest.fixture(scope="module")
def lab_server_url(offline_lab_home, tmp_path_factory):
    """The URL of a real lab server (uvicorn) serving churn-classifier@champion."""
    ensure_champion()
    with LabServer(data_dir=tmp_path_factory.mktemp("lab-server"), admin_token=TOKEN) as server:
        yield server.url


def start_demo(server_url: str) -> BackgroundServer:
    """``opslab demo`` on a free port, talking to ``server_url`` (not started yet)."""
    port = free_port()
    return BackgroundServer(
        opslab_command("demo", "--server-url", server_url, "--port", str(port)),
        f"http://127.0.0.1:{port}/",
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo_url(lab_server_url):
    """The URL of ``opslab demo`` (a real Gradio server) talking to the module's lab server."""
    with start_demo(lab_server_url) as demo:
        yield demo.ready_url

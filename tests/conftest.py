"""Shared test set-up: every test runs offline, with labs writing under a throw-away home."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from opslab.env import go_offline

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))  # repository automation is tested too


@pytest.fixture(scope="session", autouse=True)
def offline_lab_home(tmp_path_factory):
    """Point OPSLAB_HOME at a temporary folder and switch telemetry off for the whole session."""
    home = tmp_path_factory.mktemp("opslab-home")
    os.environ["OPSLAB_HOME"] = str(home)
    go_offline()
    return home


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


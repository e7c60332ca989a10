"""Hooks for the notebooks under solutions/ that nbval executes (tests/conftest.py serves tests/)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from opslab.env import go_offline
from opslab.kernels import encrypt_kernels_by_default


def pytest_configure(config):
    config.notebook_homes = Path(tempfile.mkdtemp(prefix="opslab-notebook-homes-"))
    encrypt_kernels_by_default()  # nbval's kernels too: no "running over TCP without encryption" per notebook


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "notebook_homes", ""), ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Each notebook nbval executes gets a fresh OPSLAB_HOME of its own, as a learner's first run would.

    nbval starts the notebook's kernel while setting up its first cell, and the kernel keeps the
    environment it started with; other tests keep the session's home.
    """
    if not str(item.fspath).endswith(".ipynb"):
        yield
        return
    saved = os.environ.get("OPSLAB_HOME")
    os.environ["OPSLAB_HOME"] = str(item.config.notebook_homes / Path(str(item.fspath)).stem)
    go_offline()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("OPSLAB_HOME", None)
        else:
            os.environ["OPSLAB_HOME"] = saved

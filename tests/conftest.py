"""Shared test set-up: every test runs offline, with labs writing under a throw-away home."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from opslab.assign import solution_notebooks
from opslab.env import go_offline

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))  # repository automation is tested too
SOLUTIONS = solution_notebooks(REPO / "solutions") if (REPO / "solutions").is_dir() else []


def solutions_of(*modules: str) -> list[Path]:
    """The solutions of the given modules (``"m2"``...), for the tests that run each lab."""
    return [s for s in SOLUTIONS if s.stem.split("_")[0] in modules]


@pytest.fixture(scope="session", autouse=True)
def offline_lab_home(tmp_path_factory):
    """Point OPSLAB_HOME at a temporary folder and switch telemetry off for the whole session."""
    home = tmp_path_factory.mktemp("opslab-home")
    os.environ["OPSLAB_HOME"] = str(home)
    go_offline()
    return home


# The modules that take longest (seconds of one worker, from `--durations` on 2 cores), longest first.
# pytest-xdist hands out whole modules (`--dist loadfile`, `--no-loadscope-reorder`) in collection order,
# so starting these first lets the workers finish together instead of one running a long module alone
# at the end. Only an order: a module missing here (or renamed) just runs after them.
LONGEST_FIRST = [
    "test_grade_labs_m4.py", "test_grade_labs_m5.py", "test_grade_labs_m2.py", "test_m4_projects.py",
    "test_grade_labs_m6.py", "test_grade_labs.py", "test_grade.py", "test_space.py", "test_demo.py",
    "test_monitoring_e2e.py", "test_deploy_docker.py", "test_bench_serving.py", "test_demo_browser.py",
    "test_grade_shards.py", "test_grade_limits.py",
]


def pytest_collection_modifyitems(session, config, items):
    """Put the modules of LONGEST_FIRST first, in that order; keep every other order as collected."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module's tests stay together

"""Shared test set-up: every test runs offline, with labs writing under a throw-away home; what is costly
to make (the outside install, the trained champion) is made once per pytest run and shared by its
workers; the units of work (test files; each lab of a grading file) run longest first, from the durations
recorded in tests/durations.json."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))  # repository automation is tested too

from record_durations import recorded_durations, unit_of  # noqa: E402  (scripts/)

from opslab.assign import solution_notebooks  # noqa: E402
from opslab.env import go_offline  # noqa: E402

SOLUTIONS = solution_notebooks(REPO / "solutions") if (REPO / "solutions").is_dir() else []
RUN_FOLDER: list[Path] = []  # this run's folder shared by all its workers (set at session start)


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


@pytest.fixture(scope="session", autouse=True)
def run_folder(tmp_path_factory) -> Path:
    """The folder of this pytest run that all its xdist workers share: each worker's base temporary
    folder is ``<run>/popen-gwN``; without xdist the base folder itself. pytest removes old runs' folders."""
    base = tmp_path_factory.getbasetemp()
    folder = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    RUN_FOLDER[:] = [folder]
    return folder


def once_per_run(name: str, make: Callable[[Path], None]) -> Path:
    """``<run>/<name>``, a private folder (mode 700) that ``make`` fills once per pytest run: the first
    worker to ask makes it under a file lock, the others wait for it and reuse it. A make that failed
    (an exception, no ``.made`` mark) is started again from an empty folder by the next caller."""
    if not RUN_FOLDER:
        raise RuntimeError("once_per_run needs the session's run_folder fixture (autouse) to have run")
    folder = RUN_FOLDER[0] / name
    with FileLock(RUN_FOLDER[0] / f"{name}.lock"):
        if not (folder / ".made").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(mode=0o700)
            make(folder)
            (folder / ".made").touch()
    return folder


# --- the order of the tests ------------------------------------------------------------------------------
# pytest-xdist hands out units of work (`--dist loadfile`, `--no-loadscope-reorder`) in collection order:
# a whole test file, except in the grading files, where each lab is a unit of its own (their fixture is a
# folder; the outside install is shared), so no worker runs a module's labs one after the other at the end.
# The units that took longest start first, so the workers finish together: tests/durations.json holds each
# unit's seconds from a whole run (refresh it with `python scripts/record_durations.py`); a unit it does not
# know yet counts as a middling one.

def longest_first(units: list[str], durations: dict[str, float]) -> list[str]:
    """``units`` from the longest to the shortest recorded; unknown ones at the median; ties (and an empty
    record) keep the given order."""
    middle = statistics.median(durations.values()) if durations else 0.0
    return sorted(dict.fromkeys(units), key=lambda unit: -durations.get(unit, middle))


def pytest_collection_modifyitems(session, config, items):
    """Put the units of work in longest_first order; within a unit keep the collected order."""
    order = longest_first([unit_of(item.nodeid) for item in items], recorded_durations())
    rank = {unit: i for i, unit in enumerate(order)}
    items.sort(key=lambda item: rank[unit_of(item.nodeid)])  # stable: a unit's tests stay together, in order


class UnitScheduling:
    """``--dist loadfile`` with the units of :func:`unit_of` (registered when pytest-xdist is active)."""

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config, log):
        from xdist.scheduler import LoadFileScheduling

        if config.getvalue("dist") != "loadfile":
            return None

        class ByUnit(LoadFileScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return unit_of(nodeid)

        return ByUnit(config, log)


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(UnitScheduling(), "opslab-unit-scheduling")

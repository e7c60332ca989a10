"""Module 2 labs: each runs to the end, twice in a row in the same home, and leaves no server behind."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from notebook_support import run_in_one_home


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", solutions_of("m2"), ids=lambda p: p.stem)
def test_lab_runs_twice_in_the_same_home(notebook, tmp_path, monkeypatch):
    run_in_one_home(notebook, tmp_path, monkeypatch, timeout=300, runs=2)

"""Module 4's labs: each works twice in a row in one home (its git and DVC repositories, its MLflow store
and registry are there the second time) and leaves no process behind. Grading them: test_grade_labs_m4.py."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from notebook_support import run_in_one_home


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", solutions_of("m4"), ids=lambda p: p.stem)
def test_lab_runs_twice_in_the_same_home(notebook, tmp_path, monkeypatch):
    run_in_one_home(notebook, tmp_path, monkeypatch, timeout=900, runs=2)

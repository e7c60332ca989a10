"""Module 4's labs: each works twice in a row in one home (its git and DVC repositories, its MLflow store
and registry are there the second time) and leaves no process behind. Grading them: test_grade_labs_m4.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebook_support import run_in_one_home

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "solutions").glob("m4_*.ipynb"))


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_lab_runs_twice_in_the_same_home(notebook, tmp_path, monkeypatch):
    run_in_one_home(notebook, tmp_path, monkeypatch, timeout=900, runs=2)

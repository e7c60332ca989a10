"""Module 4's labs graded from the non-editable install outside the repository (tests/grade_labs_support.py),
and, since each keeps state (its git and DVC repositories, its MLflow store and registry), run again in the
home it left, where it must work and leave no process behind."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", solutions_of("m4"), ids=lambda p: p.stem)
def test_solution_runs_clean_reproduces_its_outputs_and_scores_full_marks_the_learner_version_zero_and_runs_again(
        solution, outside):  # noqa: F811
    check_lab(solution, outside, rerun=True)

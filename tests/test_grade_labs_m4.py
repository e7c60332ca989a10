"""Module 4's labs graded from the non-editable install outside the repository (tests/grade_labs_support.py),
and, since each keeps state (its git and DVC repositories, its MLflow store and registry), the solution
graded in the home the learner version's run left, where it must work and leave no process behind."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", solutions_of("m4"), ids=lambda p: p.stem)
def test_learner_version_scores_zero_then_the_solution_in_its_home_runs_clean_with_full_marks_and_its_outputs(
        solution, outside):  # noqa: F811
    check_lab(solution, outside, rerun=True)

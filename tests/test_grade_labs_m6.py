"""Module 6's lab graded from the non-editable install outside the repository (tests/grade_labs_support.py)."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", solutions_of("m6"), ids=lambda p: p.stem)
def test_solution_runs_clean_reproduces_its_outputs_and_scores_full_marks_the_learner_version_zero(
        solution, outside):  # noqa: F811
    check_lab(solution, outside)

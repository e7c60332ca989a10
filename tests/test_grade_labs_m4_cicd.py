"""Lab 4.3 graded as tests/test_grade_labs_m4.py grades the other Module 4 labs (its own file: one xdist unit)."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", [s for s in solutions_of("m4") if s.stem == "m4_cicd"], ids=lambda p: p.stem)
def test_solution_runs_clean_reproduces_its_outputs_and_scores_full_marks_the_learner_version_zero_and_runs_again(
        solution, outside):  # noqa: F811
    check_lab(solution, outside, rerun=True)

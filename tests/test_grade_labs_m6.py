"""Module 6's labs graded from the non-editable install outside the repository (tests/grade_labs_support.py);
the capstone keeps state from run to run (its registry versions and aliases), so its solution is graded in
the home its learner version's run left, where it must work and leave no Prometheus, Alertmanager or lab
server running at its end."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)

KEEPS_STATE = {"m6_capstone"}


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", solutions_of("m6"), ids=lambda p: p.stem)
def test_solution_runs_clean_reproduces_its_outputs_and_scores_full_marks_the_learner_version_zero(
        solution, outside):  # noqa: F811
    lab = check_lab(solution, outside, rerun=solution.stem in KEEPS_STATE)
    if lab is not None:
        assert any(lab.rglob("prometheus/prometheus.yml")), "Prometheus ran in the lab's folder"

"""Module 5's labs graded from the non-editable install outside the repository (tests/grade_labs_support.py),
each run again in the home it left (Lab 5.4 keeps its registry versions and aliases; the others start their
servers afresh) and leaving no Prometheus, Alertmanager, webhook receiver or lab server behind."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", solutions_of("m5"), ids=lambda p: p.stem)
def test_solution_runs_clean_reproduces_its_outputs_and_scores_full_marks_the_learner_version_zero_and_runs_again(
        solution, outside):  # noqa: F811
    lab = check_lab(solution, outside, rerun=True)
    if solution.stem == "m5_drift":
        assert (lab / "drift_sudden.html").stat().st_size > 100_000, "the lab saves its drift report in its folder"
        assert (lab / "drift_sudden.json").read_text().startswith("{")
    else:
        assert any(lab.rglob("prometheus/prometheus.yml")), "Prometheus ran in the lab's folder"

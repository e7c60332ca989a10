"""Module 5's labs graded from the non-editable install outside the repository (tests/grade_labs_support.py),
each solution graded in the home its learner version's run left (Lab 5.4 keeps its registry versions and
aliases; the others start their servers afresh), leaving no Prometheus, Alertmanager, webhook receiver or lab
server running at its end."""

from __future__ import annotations

import pytest

from conftest import solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", solutions_of("m5"), ids=lambda p: p.stem)
def test_learner_version_scores_zero_then_the_solution_in_its_home_runs_clean_with_full_marks_and_its_outputs(
        solution, outside):  # noqa: F811
    lab = check_lab(solution, outside, rerun=True)
    if solution.stem == "m5_drift":
        assert (lab / "drift_sudden.html").stat().st_size > 100_000, "the lab saves its drift report in its folder"
        assert (lab / "drift_sudden.json").read_text().startswith("{")
    else:
        assert any(lab.rglob("prometheus/prometheus.yml")), "Prometheus ran in the lab's folder"

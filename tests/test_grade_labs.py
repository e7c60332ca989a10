"""Every lab in solutions/: its solution earns full marks, its untouched learner version none."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from opslab.assign import render, solution_notebooks
from opslab.grade.batch import Grader, grade_all
from opslab.grade.sandbox import Limits, probe_isolation

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = solution_notebooks(REPO / "solutions") if (REPO / "solutions").is_dir() else []


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_scores_full_marks_and_the_learner_version_zero(solution, tmp_path):
    (tmp_path / "solution.ipynb").write_bytes(solution.read_bytes())
    (tmp_path / "untouched.ipynb").write_text(render(solution, "https://example.org/repo"))
    grader = Grader(solution, Limits(), probe_isolation(), workers=2)
    try:
        grades = {g.learner: g for g in grade_all(grader, {p.stem: p for p in tmp_path.glob("*.ipynb")}, 2,
                                                  progress=False)}
    finally:
        grader.close()
    full, untouched = grades["solution"], grades["untouched"]
    assert full.maximum > 0 and len(full.results) == len(grader.questions)
    assert (full.status, full.total) == ("ok", full.maximum), [r for r in full.results if not r.earned]
    assert untouched.status == "ok", untouched.detail
    assert [r.earned for r in untouched.results] == [0] * len(grader.questions)
    assert all(r.message for r in untouched.results)
    assert nbformat.validate(untouched.executed) is None


@pytest.mark.skipif(len(SOLUTIONS) < 2, reason="needs two labs")
def test_a_notebook_of_another_lab_is_refused_without_running_it():
    from opslab.grade.compose import WrongLab, graded_notebook

    first, second = SOLUTIONS[:2]
    other = nbformat.reads(render(second, "https://example.org/repo"), as_version=4)
    with pytest.raises(WrongLab, match=f"lab '{second.stem}', not '{first.stem}'"):
        graded_notebook(nbformat.read(first, as_version=4), other, first.stem, "nonce")
    other.metadata.pop("opslab")  # without its label it is still recognised: no cell belongs here
    with pytest.raises(WrongLab, match="no cell of this notebook belongs"):
        graded_notebook(nbformat.read(first, as_version=4), other, first.stem, "nonce")

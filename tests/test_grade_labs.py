"""Every lab in solutions/: its solution earns full marks, its untouched learner version none."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from opslab.assign import render, solution_notebooks
from opslab.assign.markers import has_solution
from opslab.assign.questions import is_graded, question_of
from opslab.grade.batch import Grader, grade_all
from opslab.grade.sandbox import Limits, probe_isolation

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = solution_notebooks(REPO / "solutions") if (REPO / "solutions").is_dir() else []


def exercise_questions(solution) -> set[str]:
    """Questions whose graded cells follow an exercise (a solution block since the previous question).

    Other questions check the guided part of a lab, which the learner version runs unchanged."""
    found, since_last = set(), False
    for cell in solution.cells:
        if is_graded(cell) and question_of(cell):
            if since_last:
                found.add(question_of(cell)["question"])
            since_last = False
        elif cell.cell_type == "code" and has_solution(cell.source):
            since_last = True
    return found


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
    exercises = exercise_questions(grader.solution)
    assert exercises, "a lab without exercises"
    assert {r.id: r.earned for r in untouched.results if r.id in exercises} == dict.fromkeys(exercises, 0)
    assert all(r.message for r in untouched.results if r.id in exercises)
    guided = [r for r in untouched.results if r.id not in exercises]  # checks of the walk-through: pass as is
    assert [r.earned for r in guided] == [r.points for r in guided], guided
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

"""Solutions are the single source of each lab: they follow the course's notebook conventions."""

import nbformat
import pytest
from record_outputs import is_checked

from conftest import REPO

SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))


def test_there_are_solutions():
    assert SOLUTIONS, "no notebooks under solutions/"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_follows_the_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "opens with a title"
    assert "you will be able to" in nb.cells[0].source.lower(), "opens with what the learner will be able to do"
    assert any("parameters" in c.metadata.get("tags", []) for c in code), "has a papermill parameters cell"
    assert any(f'setup_lab("{path.stem}"' in c.source for c in code), "calls setup_lab with the lab's name"
    assert "Recap" in nb.cells[-1].source, "closes with a recap"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_only_determinism_checks_carry_outputs(path):
    """Outputs in a solution are the expected results the grading test compares (as nbval would); any other
    output is stale."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            assert cell.outputs, f"checked cell {cell.id} has no recorded output: run scripts/record_outputs.py"
        else:
            assert not cell.outputs, f"cell {cell.id} carries outputs: only nbval-check-output cells may"


@pytest.mark.parametrize("path", [REPO / "tests" / "fixtures" / "tiny.ipynb", *SOLUTIONS], ids=lambda p: p.name)
def test_every_question_is_decided_by_a_judge_cell_on_an_answer_cell(path):
    """The judge's form (CONTRIBUTING.md): one answer and one judge cell per question, no expectation in an
    answer cell, no old-style hidden test; points stated on the judge cell."""
    from opslab.assign.questions import form_problems, is_judge, question_of

    nb = nbformat.read(path, as_version=4)
    assert form_problems(nb) == []
    for cell in nb.cells:
        if question_of(cell) and not is_judge(cell):
            assert "points" not in question_of(cell), f"{cell.id}: state the points on the judge cell"

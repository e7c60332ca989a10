"""The outside install the grading tests use, and the labs of Modules 1 and 3 graded there (the other
modules: tests/test_grade_labs_m2.py, _m4.py, _m5.py; what each grading checks: tests/grade_labs_support.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, SOLUTIONS, solutions_of
from grade_labs_support import check_lab, outside  # noqa: F401  (fixture)
from opslab.assign import render

GRADED_HERE = ("m1", "m3")
GRADED_ELSEWHERE = ("m2", "m4", "m5", "m6")


def test_every_lab_is_graded_by_one_test_file():
    modules = {s.stem.split("_")[0] for s in SOLUTIONS}
    assert modules <= set(GRADED_HERE + GRADED_ELSEWHERE), "give the new module a tests/test_grade_labs_mN.py"
    for module in GRADED_ELSEWHERE:
        assert (Path(__file__).parent / f"test_grade_labs_{module}.py").is_file(), module


def test_the_outside_install_is_non_editable_and_sees_nothing_of_the_clone(outside):  # noqa: F811
    where = outside.run("-c", "import json, sys, opslab; print(json.dumps([opslab.__file__, sys.path]))")
    assert where.returncode == 0, where.stderr
    opslab_file, path = json.loads(where.stdout)
    assert Path(opslab_file).parent == outside.purelib / "opslab", opslab_file
    course_venv = Path(sys.prefix).resolve()  # the packages it borrows: in a clone set up by `make`, REPO/.venv
    clone = [p for p in path if p and Path(p).resolve().is_relative_to(REPO)
             and not Path(p).resolve().is_relative_to(course_venv)]
    assert not clone, path
    assert (outside.purelib / "opslab" / "grade" / "jail.py").is_file()
    assert (outside.purelib / "opslab" / "grade" / "judge.py").is_file()


def test_a_lab_that_reaches_into_the_clone_works_in_it_and_fails_from_the_outside_install(outside):  # noqa: F811
    """What makes the grading test below catch such a lab (lab 3.4 once read its app this way)."""
    reach = ("import opslab, pathlib; "
             "(pathlib.Path(opslab.__file__).resolve().parents[2] / 'pyproject.toml').read_text()")
    assert subprocess.run([sys.executable, "-c", reach], capture_output=True).returncode == 0, "fine in the clone"
    done = outside.run("-c", reach)
    assert done.returncode != 0 and "FileNotFoundError" in done.stderr, done.stderr


@pytest.mark.notebooks
@pytest.mark.parametrize("solution", solutions_of(*GRADED_HERE), ids=lambda p: p.stem)
def test_solution_runs_clean_reproduces_its_outputs_and_scores_full_marks_the_learner_version_zero(
        solution, outside):  # noqa: F811
    check_lab(solution, outside)


@pytest.mark.skipif(len(SOLUTIONS) < 2, reason="needs two labs")
def test_a_notebook_of_another_lab_is_refused_without_running_it():
    from opslab.grade.compose import WrongLab, graded_notebook

    first, second = SOLUTIONS[:2]
    other = nbformat.reads(render(second, "https://example.org/repo"), as_version=4)
    with pytest.raises(WrongLab, match=f"lab '{second.stem}', not '{first.stem}'"):
        graded_notebook(nbformat.read(first, as_version=4), other, first.stem)
    other.metadata.pop("opslab")  # without its label it is still recognised: no cell belongs here
    with pytest.raises(WrongLab, match="no cell of this notebook belongs"):
        graded_notebook(nbformat.read(first, as_version=4), other, first.stem)

"""Grade one lab's submissions as an instructor's machine would: ``python grade_outside.py SOLUTION SUBMISSIONS OUT
[--rerun]``.

tests/grade_labs_support.py copies this file into a private folder outside the repository and runs it with
the Python of a virtual environment where opslab is installed non-editable (its ``outside`` fixture
there), so the grader, its executor and every kernel import that copy of opslab, never the clone's.
It writes OUT/report.json (where opslab came from, each grade) and OUT/<learner>.executed.ipynb.

With ``--rerun`` the learner version (``untouched``) is graded first, and the solution then in the home
that run left behind (same path, same user), as a learner who runs the lab, fills in the exercises and
runs it again would: OUT/home holds the home afterwards, for the test to inspect. Otherwise both are
graded in a fresh home each, at the same time. Either way the solution's answers are the judge's
reference (as ``opslab grade``'s first run of the solution is), and the learner version is judged
against them once they are there.
"""

from __future__ import annotations

import json
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import nbformat

import opslab
from opslab.grade.batch import Grader
from opslab.grade.sandbox import Limits, probe_isolation


def main(solution: Path, submissions: Path, out: Path, rerun: bool = False) -> None:
    isolation = probe_isolation()
    grader = Grader(solution, Limits(), isolation, workers=1 if rerun else 2, hidden=(submissions,),
                    keep_workspaces=rerun)
    paths = {p.stem: p for p in sorted(submissions.glob("*.ipynb"))}
    try:
        if rerun:  # one after the other, the solution in the home the learner version left
            grades = [grader.grade("untouched", paths["untouched"]),
                      grader.grade("solution", paths["solution"], home_of="untouched", reference=True)]
            # a copy: the working folder may be a file system of its own (the disk quota), which close() unmounts
            shutil.copytree(grader.workspaces["solution"], out / "home", symlinks=True)
        else:
            with ThreadPoolExecutor(2) as pool:
                runs = [pool.submit(grader.grade, "solution", paths["solution"], reference=True),
                        pool.submit(grader.grade, "untouched", paths["untouched"])]
                grades = [run.result() for run in runs]
        grades = grader.judge_pending(grades)
        for grade in grades:  # what crossed to the judge, for the test to check it is plain data
            if grade.answers is not None:
                shutil.copytree(grade.answers, out / f"{grade.learner}.answers")
    finally:
        grader.close()
    report = {"opslab": opslab.__file__, "python": sys.executable, "isolation": isolation.describe(),
              "questions": [q.id for q in grader.questions], "grades": {}, "rerun": rerun}
    for grade in sorted(grades, key=lambda g: g.learner):
        report["grades"][grade.learner] = {"status": grade.status, "detail": grade.detail, "left": grade.left,
                                           "results": [asdict(r) for r in grade.results]}
        if grade.executed is not None:
            nbformat.write(nbformat.from_dict(grade.executed), out / f"{grade.learner}.executed.ipynb")
    (out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(*(Path(arg).resolve() for arg in sys.argv[1:4]), rerun="--rerun" in sys.argv[4:])

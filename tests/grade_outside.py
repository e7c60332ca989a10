"""Grade one lab's submissions as an instructor's machine would: ``python grade_outside.py SOLUTION SUBMISSIONS OUT``.

tests/grade_labs_support.py copies this file into a private folder outside the repository and runs it with
the Python of a virtual environment where opslab is installed non-editable (its ``outside`` fixture
there), so the grader, its executor and every kernel import that copy of opslab, never the clone's.
It writes OUT/report.json (where opslab came from, each grade) and OUT/<learner>.executed.ipynb.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat

import opslab
from opslab.grade.batch import Grader, grade_all
from opslab.grade.sandbox import Limits, probe_isolation


def main(solution: Path, submissions: Path, out: Path) -> None:
    isolation = probe_isolation()
    grader = Grader(solution, Limits(), isolation, workers=2, hidden=(submissions,))
    try:
        grades = grade_all(grader, {p.stem: p for p in sorted(submissions.glob("*.ipynb"))}, 2, progress=False)
    finally:
        grader.close()
    report = {"opslab": opslab.__file__, "python": sys.executable, "isolation": isolation.describe(),
              "questions": [q.id for q in grader.questions], "grades": {}}
    for grade in grades:
        report["grades"][grade.learner] = {"status": grade.status, "detail": grade.detail,
                                           "results": [asdict(r) for r in grade.results]}
        if grade.executed is not None:
            nbformat.write(nbformat.from_dict(grade.executed), out / f"{grade.learner}.executed.ipynb")
    (out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(*(Path(arg).resolve() for arg in sys.argv[1:4]))

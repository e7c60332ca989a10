"""Grade one lab's submissions as an instructor's machine would: ``python grade_outside.py SOLUTION SUBMISSIONS OUT
[--rerun]``.

tests/grade_labs_support.py copies this file into a private folder outside the repository and runs it with
the Python of a virtual environment where opslab is installed non-editable (its ``outside`` fixture
there), so the grader, its executor and every kernel import that copy of opslab, never the clone's.
It writes OUT/report.json (where opslab came from, each grade) and OUT/<learner>.executed.ipynb.

With ``--rerun`` it then runs the solution a second time in the home its graded run left behind (same
path, now owned by this user), as a learner who runs a lab twice would: OUT/rerun/ holds that run, the
report its result and the processes it left, and OUT/home the home afterwards, for the test to inspect.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat

import opslab
from opslab.grade.batch import Grader, grade_all
from opslab.grade.sandbox import Limits, probe_isolation


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the live processes that mention ``text`` (e.g. a lab's home), read from /proc."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def run_again(solution: Path, home: Path, out: Path) -> dict:
    """Run ``solution`` once more with ``home`` as its HOME and OPSLAB_HOME (left by its graded run)."""
    from opslab.run import execute_notebook

    if os.geteuid() == 0:  # the graded run wrote as the sandbox user: the home becomes this user's
        for folder, dirs, files in os.walk(home):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, 0, 0, follow_symlinks=False)
    os.environ.update({"HOME": str(home), "OPSLAB_HOME": str(home)})
    result = execute_notebook(solution, out / "rerun", timeout=900)
    left = processes_mentioning(str(home))
    shutil.move(home, out / "home")  # same file system: a rename
    return {"status": result.status, "error": result.error, "left": left}


def main(solution: Path, submissions: Path, out: Path, rerun: bool = False) -> None:
    isolation = probe_isolation()
    grader = Grader(solution, Limits(), isolation, workers=2, hidden=(submissions,), keep_workspaces=rerun)
    try:
        grades = grade_all(grader, {p.stem: p for p in sorted(submissions.glob("*.ipynb"))}, 2, progress=False)
        again = run_again(solution, grader.workspaces["solution"], out) if rerun else None
    finally:
        grader.close()
    report = {"opslab": opslab.__file__, "python": sys.executable, "isolation": isolation.describe(),
              "questions": [q.id for q in grader.questions], "grades": {}}
    for grade in grades:
        report["grades"][grade.learner] = {"status": grade.status, "detail": grade.detail,
                                           "results": [asdict(r) for r in grade.results]}
        if grade.executed is not None:
            nbformat.write(nbformat.from_dict(grade.executed), out / f"{grade.learner}.executed.ipynb")
    report["rerun"] = again
    (out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(*(Path(arg).resolve() for arg in sys.argv[1:4]), rerun="--rerun" in sys.argv[4:])

"""Record the expected outputs of a solution's determinism checks (cells tagged nbval-check-output).

Executes each given solution with papermill, in a fresh OPSLAB_HOME, and stores the outputs of its
tagged cells, and only those, in the source notebook; tests/grade_labs_support.py then compares every
later run against them, as `pytest --nbval-lax` would (nbval's stream merging, tests/sanitize.cfg).
Every other cell is left without outputs. Usage: python scripts/record_outputs.py solutions/*.ipynb
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat

from opslab.run import execute_notebook

CHECKED = "nbval-check-output"


def is_checked(cell) -> bool:
    return CHECKED in cell.metadata.get("tags", []) or cell.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT")


def record(path: Path) -> int:
    with tempfile.TemporaryDirectory() as out:
        os.environ["OPSLAB_HOME"] = str(Path(out) / "home")  # a fresh home, as the tests give each notebook
        result = execute_notebook(path, Path(out))
        if result.status != "ok":
            print(f"{path}: {result.error}", file=sys.stderr)
            return 1
        executed = {c.get("id"): c for c in nbformat.read(result.executed, as_version=4).cells}
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.id not in executed:  # answer and judge cells are the grader's
            continue
        ran = executed[cell.id]
        checked = is_checked(cell)
        # nbval treats a cell without an execution count as never run, so checked cells keep theirs
        cell.execution_count = ran.execution_count if checked else None
        cell.outputs = [o for o in ran.outputs if o.output_type == "stream"] if checked else []
    nbformat.write(nb, path)
    print(f"{path}: recorded {sum(is_checked(c) for c in nb.cells)} checked cell(s)")
    return 0


if __name__ == "__main__":
    sys.exit(max([record(Path(p)) for p in sys.argv[1:]] or [0]))

"""The learner's version of a solution notebook: stubs for solutions, no hidden tests, no outputs."""

from __future__ import annotations

import hashlib

import nbformat

from opslab.assign.markers import BEGIN, END, PROMPT, MarkerError, has_solution, strip_solutions
from opslab.assign.questions import (
    CHECK,
    HIDE_INPUT,
    HIDE_OUTPUT,
    RAISES,
    REMOVE,
    REMOVE_OUTPUT,
    is_graded,
    is_hidden,
    tags,
)

# Cell metadata that belongs to a run, not to the lab: dropped so re-runs give the same bytes.
RUN_METADATA = {"execution", "papermill", "ExecuteTime", "collapsed", "scrolled"}
BOOTSTRAP_ID = "opslab-bootstrap"


def bootstrap_source(repository_url: str) -> str:
    """First cell of every lab: install opslab where it is missing (Colab), a no-op elsewhere."""
    return (
        "# Colab or a fresh kernel: install the course's helper package (the book hides this cell).\n"
        "try:\n"
        "    import opslab\n"
        "except ImportError:\n"
        f'    %pip install -q "opslab[all] @ git+{repository_url}"'
    )


def bootstrap_cell(repository_url: str):
    cell = nbformat.v4.new_code_cell(bootstrap_source(repository_url), metadata={"tags": [REMOVE]})
    cell.id = BOOTSTRAP_ID
    return cell


def _clean_cell(cell, index: int, lab: str):
    """A copy of ``cell`` without outputs, counts or run metadata, with a stable id."""
    cell = nbformat.from_dict(dict(cell))
    metadata = cell.get("metadata", {})
    cell.metadata = nbformat.from_dict({k: v for k, v in metadata.items() if k not in RUN_METADATA})
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    if not cell.get("id"):
        cell.id = hashlib.sha1(f"{lab}:{index}".encode(), usedforsecurity=False).hexdigest()[:8]
    return cell


def _add_tag(cell, tag: str) -> None:
    cell.metadata["tags"] = sorted(set(tags(cell)) | {tag})


def solution_cell(source: str, exercise_id: str):
    """The solution of an exercise cell as a folded Markdown block (a dropdown admonition in the book):
    for self-learners, when ``_config.yml`` says ``opslab: {publish_solutions: true}``."""
    code = "\n".join(line for line in source.splitlines()
                     if not (BEGIN.match(line) or END.match(line) or PROMPT.match(line))).strip("\n")
    cell = nbformat.v4.new_markdown_cell(
        f"````{{admonition}} A solution\n:class: dropdown\n\n```python\n{code}\n```\n````")
    cell.id = f"{exercise_id}-solution"[:64]
    return cell


def learner_version(solution, lab: str, repository_url: str, publish_solutions: bool = False):
    """The learner notebook of ``solution`` (a NotebookNode); ``lab`` names it in errors and metadata.
    With ``publish_solutions``, each exercise is followed by its solution, folded (self-learners)."""
    cells = [bootstrap_cell(repository_url)]
    for index, original in enumerate(solution.cells):
        where = f"{lab}, cell {index}"
        if original.cell_type != "code":
            if has_solution(original.source):
                raise MarkerError(f"{where}: solution markers only work in code cells")
            cells.append(_clean_cell(original, index, lab))
            continue
        if is_graded(original) and is_hidden(original):
            continue
        cell = _clean_cell(original, index, lab)
        solved = None
        if has_solution(cell.source):  # an exercise: its code stays in view, the stub's traceback folds away
            solved = solution_cell(cell.source, cell.id) if publish_solutions else None
            cell.source = strip_solutions(cell.source, where)
            for tag in (RAISES, HIDE_OUTPUT):
                _add_tag(cell, tag)
        if is_graded(cell) or CHECK in tags(cell):  # a check: its code folds away, its failure is not shown
            for tag in (RAISES, HIDE_INPUT, REMOVE_OUTPUT):
                _add_tag(cell, tag)
        cells.append(cell)
        if solved is not None:
            cells.append(solved)
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 5
    nb.cells = cells
    kernelspec = solution.metadata.get("kernelspec") or {"name": "python3", "display_name": "Python 3"}
    nb.metadata = nbformat.from_dict({
        "kernelspec": dict(kernelspec),
        "language_info": {"name": "python"},
        "opslab": {"lab": lab, "generated_by": "opslab assign: edit solutions/, not this file"},
    })
    nbformat.validate(nb)
    return nb

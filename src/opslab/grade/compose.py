"""The notebook that is graded: the learner's cells, with the solution's check cells (feedback for the
learner, deciding nothing), its answer cells (what the judge asks of the learner's code) and its
parameters cell. The judge cells never enter it: they run in the judge process (opslab.grade.judge)."""

from __future__ import annotations

import textwrap

import nbformat

from opslab.assign.learner import learner_version
from opslab.assign.questions import PARAMETERS, RAISES, is_answer, is_graded, is_judge, question_of, tags

GRADER_KEY = "opslab_grader"  # cell metadata the grader adds; learners' copies of it are ignored


class WrongLab(ValueError):
    """The submission is a notebook of another lab (or shares no cell with this one)."""


def answer_source(question: str, source: str, seed: int) -> str:
    """An answer cell as the learner's kernel runs it: in a function of its own (its names stay out of the
    learner's namespace), ``JUDGE_SEED`` given, ``ANSWER`` saved as plain data by opslab.grade.answers."""
    body = textwrap.indent(source.rstrip() or "pass", "    ")
    return (f"from opslab.grade.answers import save as _opslab_save\n"
            f"def _opslab_answer(JUDGE_SEED={int(seed)}):\n{body}\n    return ANSWER\n"
            f"_opslab_save({question!r}, _opslab_answer)\n"
            "del _opslab_answer, _opslab_save\n")


def graded_cell(cell, index: int, seed: int):
    """The solution's check or answer cell as the grader runs it (both may raise; neither decides a point)."""
    meta = question_of(cell) or {}
    question = meta.get("question")
    if is_answer(cell):
        source, kind, shown = (answer_source(question, cell.source, seed), "answer",
                               f"# the grader collected your answer to {question} here")
    else:
        source, kind, shown = cell.source, "check", cell.source
    out = nbformat.v4.new_code_cell(source, metadata={"tags": [RAISES], GRADER_KEY: {
        "question": question, "kind": kind, "shown": shown, "solution_cell": index}})
    out.id = f"graded-{index}"
    return out


def _anchors(solution, lab_name: str) -> tuple[dict[str, int], dict[str, int]]:
    """Solution index of each learner-visible cell, by cell id and by its learner-version source."""
    by_id = {c.id: i for i, c in enumerate(solution.cells) if c.get("id")}
    lab = learner_version(solution, lab_name, "-")
    sources: dict[str, int | None] = {}
    for cell in lab.cells:
        if cell.get("id") in by_id:
            key = cell.source.strip()
            sources[key] = None if key in sources else by_id[cell.id]  # ambiguous sources anchor nothing
    return by_id, {k: v for k, v in sources.items() if v is not None and k}


def _learner_cell(cell):
    """A submission cell as it will run: no outputs (so none can be forged), may raise."""
    if cell.get("cell_type") == "code":
        kept = sorted(set(tags(cell)) - {PARAMETERS} | {RAISES})
        new = nbformat.v4.new_code_cell(cell.source, metadata={"tags": kept})
    elif cell.get("cell_type") == "markdown":
        new = nbformat.v4.new_markdown_cell(cell.source)
    else:
        new = nbformat.v4.new_raw_cell(cell.source)
    if isinstance(cell.get("id"), str):
        new.id = cell.id
    return new


def graded_notebook(solution, submission, lab_name: str, seed: int = 0):
    """Merge ``submission`` into the solution's grading skeleton; raises WrongLab when unrelated.
    ``seed``: the batch's JUDGE_SEED, from which answer cells make the inputs the judge chose."""
    claimed = (submission.metadata.get("opslab") or {}).get("lab") if isinstance(submission.metadata, dict) else None
    if claimed and claimed != lab_name:
        raise WrongLab(f"this is a notebook of lab {claimed!r}, not {lab_name!r}")
    owned = [(i, c) for i, c in enumerate(solution.cells)
             if (is_graded(c) and not is_judge(c)) or PARAMETERS in tags(c)]
    owned_ids = {c.get("id") for _, c in owned}
    by_id, by_source = _anchors(solution, lab_name)
    cells, same_text, pending = [], 0, list(owned)

    def emit_owned_before(position: float) -> None:
        while pending and pending[0][0] < position:
            index, cell = pending.pop(0)
            if PARAMETERS in tags(cell):
                parameters = nbformat.v4.new_code_cell(cell.source, metadata={"tags": [PARAMETERS, RAISES]})
                parameters.id = f"parameters-{index}"
                cells.append(parameters)
            else:
                cells.append(graded_cell(cell, index, seed))

    for cell in submission.cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        if cell.cell_type == "code" and (is_graded(cell) or PARAMETERS in tags(cell) or GRADER_KEY in cell.metadata
                                         or "injected-parameters" in tags(cell) or cell.get("id") in owned_ids):
            continue  # the solution's version of these cells is used instead
        text_anchor = by_source.get(cell.source.strip()) if cell.source.strip() else None
        same_text += text_anchor is not None
        anchor = by_id.get(cell.get("id")) if cell.get("id") not in (None, "opslab-bootstrap") else None
        anchor = text_anchor if anchor is None else anchor
        if anchor is not None:
            emit_owned_before(anchor)
        cells.append(_learner_cell(cell))
    # Recognised by text, not ids (labs may share ids such as cell-03): most cells a learner does not
    # edit (text, set-up, checks) are unchanged; a few common lines do not make another lab this one.
    if same_text < len(by_source) / 2 and any(c.source.strip() for c in submission.cells):
        raise WrongLab(f"no cell of this notebook belongs to lab {lab_name!r}")
    emit_owned_before(float("inf"))
    seen: set[str] = set()
    for number, cell in enumerate(cells):  # ids must be unique: old notebooks have none, copies repeat them
        if not isinstance(cell.get("id"), str) or cell.id in seen:
            cell.id = f"cell-{number}"
        seen.add(cell.id)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = nbformat.from_dict({"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                     "language": "python"}, "language_info": {"name": "python"}})
    return nb

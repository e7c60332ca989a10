"""What a lab notebook grades: the cell tags and metadata of the lab conventions, read in one place."""

from __future__ import annotations

from dataclasses import dataclass

CHECK = "check"  # a public check cell: kept for learners, re-taken from the solution when grading
ANSWER = "answer"  # what the judge asks of the learner's code: run in the learner's kernel when grading
JUDGE = "judge"  # decides the question's points in the judge process; never in any kernel
# Neither reaches labs/ (opslab.grade.answers and opslab.grade.judge say how each runs).
PARAMETERS = "parameters"  # papermill's parameters cell
RAISES = "raises-exception"  # the cell may raise; execution (book, opslab run, grader) goes on
REMOVE = "remove-cell"  # the book hides the cell
# How the book shows an exercise (Jupyter Book's cell tags; they change nothing when a notebook runs):
HIDE_INPUT = "hide-input"  # a check cell's code, collapsed behind "Show code"
HIDE_OUTPUT = "hide-output"  # the stub's traceback in an exercise cell, collapsed behind "Show output"
REMOVE_OUTPUT = "remove-output"  # a check cell's output, which in the learner version is only its failure


def tags(cell) -> list[str]:
    found = cell.get("metadata", {}).get("tags", [])
    return [t for t in found if isinstance(t, str)] if isinstance(found, list) else []


def question_of(cell) -> dict | None:
    """The ``{"question": id, "points": n}`` metadata of a graded cell, or None."""
    meta = cell.get("metadata", {}).get("opslab")
    if isinstance(meta, dict) and isinstance(meta.get("question"), str):
        return meta
    return None


def is_graded(cell) -> bool:
    """A check, answer or judge cell: its source always comes from the solution."""
    return cell.get("cell_type") == "code" and (
        CHECK in tags(cell) or ANSWER in tags(cell) or JUDGE in tags(cell) or question_of(cell) is not None
    )


def is_hidden(cell) -> bool:
    """An answer or judge cell: the grader's, never in the learner's notebook."""
    return ANSWER in tags(cell) or JUDGE in tags(cell)


def is_answer(cell) -> bool:
    return ANSWER in tags(cell)


def is_judge(cell) -> bool:
    return JUDGE in tags(cell)


@dataclass(frozen=True)
class Question:
    id: str
    points: int


def questions(nb) -> list[Question]:
    """The graded questions of a solution notebook, in order of first appearance.

    A question is decided by its judge cell alone, on what its answer cell sent (one of each per
    question); its check cells give the learner feedback while working and decide nothing.
    Points are stated once per question; the largest stated value is used.
    """
    points: dict[str, int] = {}
    for cell in nb.cells:
        meta = question_of(cell) if is_graded(cell) else None
        if meta is None:
            continue
        points[meta["question"]] = max(points.get(meta["question"], 0), int(meta.get("points", 1)))
    return [Question(q, p) for q, p in points.items()]


def judge_cells(nb) -> dict[str, str]:
    """question id -> the source of its judge cell."""
    return {question_of(c)["question"]: c.source for c in nb.cells if is_judge(c) and question_of(c)}


def form_problems(nb) -> list[str]:
    """What keeps a solution notebook from the judge's form: every question has one answer cell and one
    judge cell, the answer before the judge, and no answer cell holds an expectation (an ``assert``)."""
    import ast

    problems = []
    for q in questions(nb):
        answers = [c for c in nb.cells if is_answer(c) and (question_of(c) or {}).get("question") == q.id]
        judges = [c for c in nb.cells if is_judge(c) and (question_of(c) or {}).get("question") == q.id]
        if len(answers) != 1 or len(judges) != 1:
            problems.append(f"{q.id}: {len(answers)} answer cell(s) and {len(judges)} judge cell(s), not one of each")
            continue
        try:
            tree = ast.parse(answers[0].source)
        except SyntaxError as err:
            problems.append(f"{q.id}: its answer cell does not parse ({err})")
            continue
        if any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
            problems.append(f"{q.id}: its answer cell holds an assert (expectations belong in the judge cell)")
        if not any(isinstance(node, ast.Name) and node.id == "ANSWER" and isinstance(node.ctx, ast.Store)
                   for node in ast.walk(tree)):
            problems.append(f"{q.id}: its answer cell never assigns ANSWER")
    for cell in nb.cells:
        if "hidden-test" in tags(cell):
            problems.append(f"cell {cell.get('id')}: a hidden-test cell (the old form): "
                            "write an answer and a judge cell")
    return problems

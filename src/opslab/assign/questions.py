"""What a lab notebook grades: the cell tags and metadata of the lab conventions, read in one place."""

from __future__ import annotations

from dataclasses import dataclass

CHECK = "check"  # a public check cell: kept for learners, re-taken from the solution when grading
HIDDEN = "hidden-test"  # a hidden test cell: never reaches labs/, inserted by the grader
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
    """A check or hidden-test cell: its source always comes from the solution."""
    return cell.get("cell_type") == "code" and (
        CHECK in tags(cell) or HIDDEN in tags(cell) or question_of(cell) is not None
    )


def is_hidden(cell) -> bool:
    return HIDDEN in tags(cell)


@dataclass(frozen=True)
class Question:
    id: str
    points: int


def questions(nb) -> list[Question]:
    """The graded questions of a solution notebook, in order of first appearance.

    A question is worth the points of its check cell(s) and hidden test cell(s) together: every
    graded cell with that id must pass for the points (a question passes only when all its cells do).
    Points are stated once per question; the largest stated value is used.
    """
    points: dict[str, int] = {}
    for cell in nb.cells:
        meta = question_of(cell) if is_graded(cell) else None
        if meta is None:
            continue
        points[meta["question"]] = max(points.get(meta["question"], 0), int(meta.get("points", 1)))
    return [Question(q, p) for q, p in points.items()]

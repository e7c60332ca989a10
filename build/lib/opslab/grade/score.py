"""Score an executed notebook: a question earns its points when every one of its graded cells ran
to its end (it printed the run's pass line) without an error."""

from __future__ import annotations

from dataclasses import dataclass

from opslab.assign.questions import Question
from opslab.grade.compose import GRADER_KEY, pass_line


@dataclass(frozen=True)
class QuestionResult:
    id: str
    points: int
    earned: int
    message: str  # empty when passed; otherwise what was wrong, or why it did not run


def _error_of(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            evalue = str(output.get("evalue", "")).strip()
            if output.get("ename") in ("CheckFailed", "CellTimeoutError") and evalue:
                return evalue[:800]
            return f"{output.get('ename')}: {evalue}"[:800]
    return None


def _printed(cell, line: str) -> bool:
    return any(o.get("output_type") == "stream" and line in "".join(o.get("text", ""))
               for o in cell.get("outputs", []))


def cell_verdict(cell, nonce: str, why_not_run: str) -> str:
    """'' when the graded cell passed, else the message for the learner."""
    error = _error_of(cell)
    if error:
        return error
    if _printed(cell, pass_line(nonce)):
        return ""
    return why_not_run


def score(executed, questions: list[Question], nonce: str, why_not_run: str) -> list[QuestionResult]:
    """One result per question of the solution, in order; cells that never ran count as failed."""
    problems: dict[str, list[str]] = {q.id: [] for q in questions}
    seen: set[str] = set()
    for cell in executed.cells:
        meta = cell.get("metadata", {}).get(GRADER_KEY)
        if not meta or meta.get("question") not in problems:
            continue
        seen.add(meta["question"])
        verdict = cell_verdict(cell, nonce, why_not_run)
        if verdict:
            problems[meta["question"]].append(verdict)
    results = []
    for q in questions:
        found = problems[q.id] if q.id in seen else [why_not_run]
        results.append(QuestionResult(q.id, q.points, 0 if found else q.points, found[0] if found else ""))
    return results

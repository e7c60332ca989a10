"""Score an executed notebook: a question earns its points when every one of its graded cells ran
without an error and the grading kernel signed that outcome (opslab.grade.kernel). What the kernel's
guard noted (a submission that watched or rewrote other code) makes the submission *suspicious*."""

from __future__ import annotations

from dataclasses import dataclass, field

from opslab.assign.questions import Question
from opslab.grade.compose import GRADER_KEY
from opslab.grade.kernel import verify

UNVERIFIED = "the grader could not verify that this check ran: its signature is missing or wrong"


@dataclass(frozen=True)
class QuestionResult:
    id: str
    points: int
    earned: int
    message: str  # empty when passed; otherwise what was wrong, or why it did not run


@dataclass
class Scored:
    results: list[QuestionResult]
    findings: list[str] = field(default_factory=list)  # for manual review; empty when nothing was seen


def _error_of(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            evalue = str(output.get("evalue", "")).strip()
            if output.get("ename") in ("CheckFailed", "CellTimeoutError") and evalue:
                return evalue[:800]
            return f"{output.get('ename')}: {evalue}"[:800]
    return None


def cell_verdict(cell, reply: dict | None, key: bytes, why_not_run: str) -> tuple[str, list[str]]:
    """('' when the graded cell passed, else the message for the learner; what the guard noted)."""
    error = _error_of(cell)
    if not reply:
        return error or why_not_run, []
    valid, notes = verify(key, reply.get("guard"), reply.get("msg_id", ""), cell.get("source", ""),
                          reply.get("status", ""))
    if error:
        return error, notes
    if not valid:
        return UNVERIFIED, [f"{UNVERIFIED} ({cell.get('id')})"]
    if reply.get("status") != "ok":
        return why_not_run, notes
    return "", notes


def score(executed, questions: list[Question], replies: dict, key: bytes, why_not_run: str) -> Scored:
    """One result per question of the solution, in order; cells that never ran count as failed."""
    problems: dict[str, list[str]] = {q.id: [] for q in questions}
    seen: set[str] = set()
    findings: list[str] = []
    for cell in executed.cells:
        meta = cell.get("metadata", {}).get(GRADER_KEY)
        if not meta or meta.get("question") not in problems:
            continue
        seen.add(meta["question"])
        verdict, notes = cell_verdict(cell, replies.get(cell.get("id")), key, why_not_run)
        findings += [n for n in notes if n not in findings]
        if verdict:
            problems[meta["question"]].append(verdict)
    results = []
    for q in questions:
        found = problems[q.id] if q.id in seen else [why_not_run]
        results.append(QuestionResult(q.id, q.points, 0 if found else q.points, found[0] if found else ""))
    return Scored(results, findings)

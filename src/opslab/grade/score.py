"""Points from the judge's verdicts: a question earns its points when its judge cell accepted the
learner's answer (opslab.grade.judge). Nothing the learner's kernel printed, raised or signed counts."""

from __future__ import annotations

from dataclasses import dataclass

from opslab.assign.questions import Question
from opslab.grade.judge import NOT_REACHED


@dataclass(frozen=True)
class QuestionResult:
    id: str
    points: int
    earned: int
    message: str  # for the learner: empty when accepted; otherwise a fixed verdict
    note: str = ""  # for the instructor only (never in feedback): what the judge cell said


def score(questions: list[Question], verdicts: dict[str, tuple[str, str]],
          why_not_run: str = "") -> list[QuestionResult]:
    """One result per question of the solution, in order. ``why_not_run`` replaces the verdict of a
    question the notebook never reached, when the run stopped early (timeout, crash)."""
    results = []
    for q in questions:
        verdict, note = verdicts.get(q.id, (NOT_REACHED, ""))
        if verdict == NOT_REACHED and why_not_run:
            verdict = why_not_run
        results.append(QuestionResult(q.id, q.points, 0 if verdict else q.points, verdict, note))
    return results

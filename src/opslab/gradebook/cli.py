"""``opslab gradebook SHARD_DIR... --out OUT``: merge `opslab grade --shard K/N` results into one
gradebook and feedback folder, the same as a single machine would have written."""

from __future__ import annotations

from pathlib import Path

from opslab.assign.questions import Question
from opslab.grade.report import Grade, summary
from opslab.grade.score import QuestionResult
from opslab.grade.shard import ShardError, merge


def configure(parser) -> None:
    parser.add_argument("shards", nargs="+", help="the --out folders of `opslab grade --shard K/N`, one per K")
    parser.add_argument("--out", required=True, help="folder for the merged grades.csv and feedback/ (replaced)")


def command(args) -> int:
    out = Path(args.out)
    try:
        rows, manifest = merge([Path(s) for s in args.shards], out)
    except ShardError as err:
        print(f"opslab gradebook: {err}")
        return 2
    questions = [Question(q, points) for q, points in manifest["questions"]]
    grades = [Grade(row["learner"], row["status"],
                    [QuestionResult(q.id, q.points, int(row[q.id]), "") for q in questions],
                    float(row["seconds"]), row["detail"]) for row in rows]
    isolations = sorted({row.get("isolation", "") for row in rows} or {manifest["isolation"]})
    print(summary(grades, questions, out, " | ".join(isolations)))
    return 0

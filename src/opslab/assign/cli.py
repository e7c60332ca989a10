"""``opslab assign [--check]``: regenerate every learner notebook in labs/ from its solution in solutions/."""

from __future__ import annotations

from pathlib import Path

import nbformat

from opslab.assign import assign_all, stale_labs
from opslab.assign.learner import NeedsError
from opslab.assign.markers import MarkerError


def configure(parser) -> None:
    parser.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    parser.add_argument("--labs", default="labs", help="folder of learner notebooks (rewritten)")
    parser.add_argument("--config", default="_config.yml", help="book config (opslab.publish_solutions)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when labs/ is stale")


def command(args) -> int:
    solutions = Path(args.solutions)
    if not solutions.is_dir():
        print(f"opslab assign: {solutions} is not a folder of solution notebooks")
        return 2
    try:
        if args.check:
            stale = stale_labs(solutions, Path(args.labs), Path(args.config))
            print(f"stale: {', '.join(stale)}; run `opslab assign`" if stale else "labs/ is up to date")
            return 1 if stale else 0
        written = assign_all(solutions, Path(args.labs), Path(args.config))
    except (MarkerError, NeedsError, nbformat.ValidationError) as err:
        print(f"opslab assign: {err}")
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} learner notebooks in {args.labs}")
    return 0

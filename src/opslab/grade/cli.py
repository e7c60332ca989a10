"""``opslab grade LAB SUBMISSIONS_DIR --out OUT_DIR``: run every submission safely, score every question."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from opslab.grade.batch import Grader, SelfCheckFailed, grade_all
from opslab.grade.collect import find_solution, find_submissions
from opslab.grade.report import summary, write_csv, write_feedback
from opslab.grade.sandbox import IsolationError, Limits, probe_isolation
from opslab.grade.shard import parse_shard, pick, write_manifest
from opslab.run import parse_parameter


def configure(parser) -> None:
    parser.add_argument("lab", help="lab name (its solutions/<lab>.ipynb) or a solution notebook's path")
    parser.add_argument("submissions", help="folder of submissions, one <learner>.ipynb each")
    parser.add_argument("--out", required=True, help="folder for grades.csv and feedback/ (both replaced)")
    parser.add_argument("--workers", type=int, default=0, help="submissions at once (default: one per core)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a whole notebook may run")
    parser.add_argument("--cell-timeout", type=int, default=0, help="seconds one cell may run (default: timeout/2)")
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of a kernel")
    parser.add_argument("--disk-mb", type=int, default=2048,
                        help="size of a submission's working folder (as root, its own tmpfs)")
    parser.add_argument("--files", type=int, default=200_000,
                        help="files and folders a submission's working folder may hold (as root)")
    parser.add_argument("--cpus", type=float, default=0,
                        help="cores one submission may use, with all it started (as root, with cgroups; "
                             "default 0: no cap, submissions share the CPU fairly)")
    parser.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="papermill parameter for every submission (value read as YAML), repeatable")
    parser.add_argument("--allow-weak-isolation", action="store_true",
                        help="grade even where the sandbox cannot hide the solutions or cut the network "
                             "(the summary and the gradebook say so)")
    parser.add_argument("--shard", metavar="K/N", help="grade only shard K of N (every N-th learner); merge the "
                        "shards' --out folders with `opslab gradebook`")
    parser.add_argument("--no-self-check", action="store_true",
                        help="go on even when the lab's own solution, graded first (its answers are the judge's "
                             "reference), misses points")
    parser.add_argument("--judge-seed", type=int, default=None,
                        help="the JUDGE_SEED answer cells build the judge's inputs from (default: a new one per "
                             "run; give every shard of a batch the same one)")


def command(args) -> int:
    try:
        solution = find_solution(args.lab, Path(args.solutions))
        submissions = find_submissions(Path(args.submissions))
        parameters = dict(parse_parameter(p) for p in args.parameter)
        shard = parse_shard(args.shard) if args.shard else None
    except (FileNotFoundError, ValueError) as err:
        print(f"opslab grade: {err}")
        return 2
    workers = args.workers or os.cpu_count() or 1
    limits = Limits(notebook_seconds=args.timeout, cell_seconds=args.cell_timeout or max(args.timeout // 2, 1),
                    memory_mb=args.memory_mb, disk_mb=args.disk_mb, files=args.files, cpus=args.cpus)
    isolation = probe_isolation()
    out = Path(args.out)
    hidden = (Path(args.submissions), out)  # the grader adds the solutions, the course, its home
    try:
        grader = Grader(solution, limits, isolation, parameters, workers, hidden=hidden,
                        allow_weak=args.allow_weak_isolation, seed=args.judge_seed)
    except IsolationError as err:
        print(f"opslab grade: {err}")
        return 2
    try:
        reference = grader.grade("the lab's own solution", solution, reference=True)
        if not args.no_self_check:
            grader.require_full_marks(reference)
        shutil.rmtree(out / "feedback", ignore_errors=True)  # only what an earlier grading wrote
        (out / "shard.json").unlink(missing_ok=True)
        (out / "feedback").mkdir(parents=True)
        # each page is written as its grade comes, and its executed notebook then dropped: the grader's
        # memory does not grow with the batch
        grades = grade_all(grader, pick(submissions, shard) if shard else submissions, workers,
                           each=lambda grade: write_feedback(grade, grader.lab, out / "feedback"))
    except SelfCheckFailed as err:
        print(f"opslab grade: {err}")
        return 3
    finally:
        grader.close()
    write_csv(grades, grader.questions, out / "grades.csv", isolation.describe())
    if shard:
        write_manifest(out, grader.lab, shard, [g.learner for g in grades], grader.questions, isolation.describe(),
                       len(submissions))
    print(summary(grades, grader.questions, out, isolation.describe()))
    return 0

"""Benchmark `opslab grade`: grade N copies of a Module 1 solution and compare with the floor.

The floor is what grading could cost at best: the time to execute the notebook once with plain
papermill, times N, divided by the cores. The target is a ratio of at most 1.2 (a script that prints
figures, not a timed test). Grading includes the judge: a process of its own per submission.

    PYTHONPATH=src python scripts/bench_grading.py -n 20      # 20 copies of solutions/m1_lifecycle
    PYTHONPATH=src python scripts/bench_grading.py --lab m1_pipelines -n 10 --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from opslab.grade.batch import Grader, grade_all
from opslab.grade.collect import find_solution
from opslab.grade.sandbox import Limits, probe_isolation
from opslab.run import execute_notebook


def cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (kernels, executors)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="m1_lifecycle", help="lab name or solution path")
    parser.add_argument("-n", type=int, default=40, help="copies to grade")
    parser.add_argument("--workers", type=int, default=0, help="default: one per core, as `opslab grade`")
    args = parser.parse_args()
    solution = find_solution(args.lab)
    cores = os.cpu_count() or 1
    workers = args.workers or cores
    scratch = Path(tempfile.mkdtemp(prefix="opslab-bench-"))
    os.environ["OPSLAB_HOME"] = str(scratch / "home")
    import papermill  # noqa: F401  (imported before the clock starts: the floor is the run alone)

    try:
        started, cpu = time.perf_counter(), cpu_seconds()
        once = execute_notebook(solution, scratch / "once")
        single, single_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        if once.status != "ok":
            print(f"the solution does not run: {once.error}")
            return 1
        subs = scratch / "subs"
        subs.mkdir()
        for i in range(args.n):
            shutil.copy(solution, subs / f"learner{i:03d}.ipynb")
        isolation = probe_isolation()
        grader = Grader(solution, Limits(), isolation, workers=workers)
        try:
            grader.self_check()  # the reference every judge compares with, as `opslab grade` runs it first
        except Exception:
            grader.close()
            raise
        started, cpu = time.perf_counter(), cpu_seconds()
        try:
            grades = grade_all(grader, {p.stem: p for p in sorted(subs.glob("*.ipynb"))}, workers)
        finally:
            grader.close()  # reaps the executors, so their kernels' CPU time is counted
        total, total_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    full = sum(g.total == g.maximum and g.status == "ok" for g in grades)
    floor = single * args.n / cores
    print(f"lab {solution.stem}: {args.n} submissions, {workers} workers, {cores} cores")
    print(f"isolation: {isolation.describe()}")
    print(f"one papermill run:         {single:7.1f} s")
    print(f"grading wall time:         {total:7.1f} s   ({full} of {args.n} at full marks)")
    print(f"seconds per submission:    {total / args.n:7.2f} s")
    print(f"floor per submission:      {floor / args.n:7.2f} s   (one run x N / cores)")
    print(f"ratio to the floor:        {total / floor:7.2f} x   (target <= 1.2)")
    print(f"CPU per submission:        {total_cpu / args.n:7.2f} s   vs {single_cpu:.2f} s for one papermill run"
          f" ({total_cpu / args.n / single_cpu:.2f} x; insensitive to other load on the machine)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {cores} cores")
    return 0 if full == args.n else 1


if __name__ == "__main__":
    raise SystemExit(main())

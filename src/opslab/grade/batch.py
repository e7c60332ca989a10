"""Grade many submissions at once: each runs in a new sandboxed kernel (one executor per worker), then the
judge, a process of its own, decides its points from the plain data its answer cells wrote.

The lab's own solution is run first (:meth:`Grader.self_check`): its answers are the *reference* every
judge cell may compare with, and it must get full marks against them."""

from __future__ import annotations

import logging
import os
import queue
import secrets
import shutil
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from opslab.assign.questions import judge_cells
from opslab.assign.questions import questions as questions_of
from opslab.grade import cgroup, judge
from opslab.grade.collect import UnreadableSubmission, read_submission
from opslab.grade.compose import WrongLab, graded_notebook
from opslab.grade.executor import ExecutorProcess
from opslab.grade.report import Grade
from opslab.grade.sandbox import (
    SCRATCH_PREFIX,
    Isolation,
    IsolationError,
    Limits,
    Workspace,
    claim_uids,
    environment,
    kill_user,
    sweep_workspaces,
    write_kernel_spec,
)
from opslab.grade.score import score

log = logging.getLogger(__name__)
STARTUP_SECONDS = 120  # beyond the notebook's own limit: interpreter, kernel start, writing results

WHY_NOT_RUN = {  # a question the notebook never reached, by how its run ended (ok: the judge's own verdict)
    "timeout": "did not run: the notebook hit its time limit before this question",
    "crashed": "did not run: the kernel died before this question",
    "error": "did not run: the grader could not run the notebook",
}


class SelfCheckFailed(RuntimeError):
    """The lab's own solution did not get full marks in the sandbox: grading learners would be wrong."""


def course_root(path: Path) -> Path | None:
    """The git repository (or any folder with .git) that holds ``path``: hidden whole from kernels."""
    for folder in [path, *path.parents]:
        if (folder / ".git").exists():
            return folder
    return None


class Grader:
    """Grades submissions of one lab; safe to call from several threads (one slot each).

    Refuses to start (IsolationError) when the sandbox is incomplete, unless ``allow_weak``.
    """

    def __init__(self, solution_path: Path, limits: Limits, isolation: Isolation, parameters: dict | None = None,
                 workers: int = 1, scratch: Path | None = None, hidden: tuple[Path, ...] = (),
                 allow_weak: bool = False, keep_workspaces: bool = False, seed: int | None = None):
        if not isolation.complete and not allow_weak:
            raise IsolationError(f"the grading sandbox cannot be made here: {isolation.describe()}. Fix that, or "
                                 "pass --allow-weak-isolation to grade with weaker isolation (the summary and "
                                 "the gradebook will say so)")
        self.solution_path = solution_path
        self.solution = nbformat.read(solution_path, as_version=4)
        self.lab = solution_path.stem
        self.questions = questions_of(self.solution)
        judges = judge_cells(self.solution)
        self.judge_job = [{"id": q.id, "source": judges.get(q.id, "raise AssertionError('no judge cell')")}
                          for q in self.questions]
        # JUDGE_SEED: the inputs answer cells build for the judge, the same for the solution and every learner
        # of this batch, and not known before it starts
        self.seed = secrets.randbelow(2**31) if seed is None else seed
        self.reference: Path | None = None  # the solution's answers, once self_check (or use_reference) ran
        self.limits, self.isolation, self.parameters = limits, isolation, parameters or {}
        # keep_workspaces: each submission's working folder (its HOME and OPSLAB_HOME, with what its code
        # wrote) stays, at the same path, until close(): ``workspaces[learner]``, e.g. to grade another
        # notebook there (``grade(..., home_of=learner)``), as a learner who runs a lab again would
        self.keep_workspaces = keep_workspaces
        self.workspaces: dict[str, Path] = {}
        self._kept: dict[str, Workspace] = {}
        sweep_workspaces(Path(scratch or tempfile.gettempdir()))  # what a killed grader left mounted
        # named after this process, so that the next grader knows it is gone if it is killed
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=scratch))
        try:
            # per slot, a user for the submission's kernel and one for its judge: no learner's process can
            # reach the judge (and judges of two slots cannot stop each other)
            claimed = claim_uids(2 * workers) if isolation.own_user else [(0, None)] * (2 * workers)
            self.uids, self.judge_uids = claimed[:workers], claimed[workers:]
        except BaseException:  # no free uid: nothing of this grader may stay behind
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        self.scratch.chmod(0o711)
        # folders the kernels must not see even where a shown folder holds them: the solution's, the
        # course's repository (its .git, _build, tests), the grader's home, the scratch folder (other
        # submissions), and whatever the caller adds (submissions, output)
        repo = course_root(solution_path.resolve().parent)
        self.hidden = tuple(dict.fromkeys(p.resolve() for p in (solution_path.parent, *hidden, Path.home(),
                                                                  self.scratch, *([repo] if repo else []))))
        self.slots: queue.Queue[int] = queue.Queue()
        self.executors = {slot: ExecutorProcess(self.scratch / f"executor-{slot}.log") for slot in range(workers)}
        for slot in range(workers):
            self.slots.put(slot)

    def failed(self, learner: str, status: str, detail: str, started: float) -> Grade:
        """A submission that did not run: every question earns 0, with ``detail`` as the reason."""
        results = score(self.questions, {}, detail)
        return Grade(learner, status, results, time.perf_counter() - started, detail)

    def self_check(self, home_of: str | None = None) -> Grade:
        """Grade the lab's own solution in the sandbox first (``home_of``: in the home that learner's run
        left): its answers become the reference. Raise SelfCheckFailed, naming the first cell that failed
        and its error, or the question the judge refused, unless it gets full marks with status ok."""
        grade = self.grade("the lab's own solution", self.solution_path, home_of=home_of, reference=True)
        return self.require_full_marks(grade)

    def require_full_marks(self, grade: Grade) -> Grade:
        if grade.status == "ok" and grade.total == grade.maximum:
            return grade
        where = first_error(grade.executed) if grade.executed is not None else ""
        missed = next((f"{r.id}: {r.message} ({r.note})" for r in grade.results if not r.earned), "")
        raise SelfCheckFailed(
            f"the solution of {self.lab} gets {grade.total}/{grade.maximum} (status {grade.status}) in the "
            f"grading sandbox, so learners would be graded wrongly. {where or missed or grade.detail}".strip())

    def grade(self, learner: str, path: Path, home_of: str | None = None, reference: bool = False) -> Grade:
        """Never raises: whatever the submission is, it gets a grade and a status.

        ``home_of``: run it in the working folder that learner's graded run left (kept with
        ``keep_workspaces``), at the same path and as this slot's user, instead of a new one.
        ``reference``: this is the lab's own solution; its answers become the reference.
        Before there is a reference, a grade is *pending*: :meth:`judge_pending` decides it later."""
        started = time.perf_counter()
        try:
            return self._grade(learner, path, started, home_of, reference)
        except Exception as err:  # a bug of ours must not cost the rest of the batch
            where = traceback.extract_tb(err.__traceback__)[-1]
            log.error("grading %r failed:\n%s", learner, traceback.format_exc())  # the whole traceback
            return self.failed(learner, "error", f"the grader failed: {type(err).__name__}: {err} (at "
                               f"{Path(where.filename).name}:{where.lineno} in {where.name})", started)

    def _grade(self, learner: str, path: Path, started: float, home_of: str | None = None,
               reference: bool = False) -> Grade:
        try:
            submission = read_submission(path)
            graded = graded_notebook(self.solution, submission, self.lab, self.seed)
        except UnreadableSubmission as err:
            return self.failed(learner, "unreadable", str(err), started)
        except WrongLab as err:
            return self.failed(learner, "wrong-lab", str(err), started)
        slot = self.slots.get()
        try:
            return self._execute(learner, graded, slot, started, home_of, reference)
        finally:
            self.slots.put(slot)

    def _execute(self, learner: str, graded, slot: int, started: float, home_of: str | None = None,
                 reference: bool = False) -> Grade:
        uid = self.uids[slot][0]
        token = secrets.token_hex(4)
        if home_of is not None:
            kept = self._kept.pop(home_of, None)
            if kept is None:
                raise ValueError(f"no working folder of {home_of!r} was kept (keep_workspaces) to run this in")
            workspace = Workspace(kept.root, uid)
            workspace.reuse()
        else:
            workspace = Workspace(self.scratch / f"{slot}-{token}", uid, self.limits.disk_mb, self.limits.files)
            workspace.create()
        groups: list[str] = []
        try:
            if self.isolation.whole_memory:
                groups = cgroup.create(f"{self.scratch.name}-{slot}-{token}", self.limits.memory_mb * 2**20,
                                       self.limits.processes, self.limits.cpus)
            (workspace.out / "graded.ipynb").write_text(nbformat.writes(graded))
            spec = write_kernel_spec(workspace, self.isolation, self.limits, self.hidden, tuple(groups))
            env = environment(workspace, spec)
            job = {"out": str(workspace.out), "run": str(workspace.run), "work": str(workspace.work), "uid": uid,
                   "env": env, "parameters": self.parameters, "cell_timeout": self.limits.cell_seconds,
                   "notebook_timeout": self.limits.notebook_seconds, "output_kb": self.limits.output_kb,
                   "notebook_output_kb": self.limits.notebook_output_kb}
            answer = self.executors[slot].run(job, self.limits.notebook_seconds + STARTUP_SECONDS)
            if answer is None:
                status = "error"
                detail = f"the grader's executor died or hung: {self.executors[slot].log_tail() or 'no log'}"
            else:
                status, detail = answer["status"], answer["detail"]
            executed = self._read_executed(workspace)
            if executed is None:
                return self.failed(learner, status if status != "ok" else "error",
                                   detail or "the grader produced no executed notebook", started)
            left = answer.get("left", []) if answer else []
            if left:
                detail = "; ".join(filter(None, [detail, f"left {len(left)} process(es) running at its end, "
                                                          f"stopped by the grader: {'; '.join(left)[:300]}"]))
            kill_user(uid)  # nothing of the submission runs while its answers are copied and judged
            answers = judge.copy_answers(workspace.answers, self.scratch / "answers" / f"{slot}-{token}")
            if reference:
                self.reference = answers
            grade = Grade(learner, status, [], time.perf_counter() - started, detail, executed, left,
                          answers=answers, why_not_run=WHY_NOT_RUN.get(status, ""), pending=True)
            return self._judge(grade, slot) if self.reference is not None else grade
        finally:
            kill_user(uid)
            cgroup.kill(groups)
            cgroup.remove(groups)
            if self.keep_workspaces:
                self.workspaces[learner], self._kept[learner] = workspace.work, workspace
            else:
                workspace.remove()

    def judge(self, grade: Grade) -> Grade:
        """Decide ``grade``'s points with the judge process, against the solution's answers."""
        slot = self.slots.get()
        try:
            return self._judge(grade, slot)
        finally:
            self.slots.put(slot)

    def _judge(self, grade: Grade, slot: int) -> Grade:
        if self.reference is None:
            raise RuntimeError("no reference yet: run self_check() (or grade the solution with reference=True) first")
        uid = self.judge_uids[slot][0]
        folder = Path(tempfile.mkdtemp(prefix="judge-", dir=self.scratch))
        try:
            verdicts = judge.ask(self.judge_job, grade.answers, self.reference, self.seed, folder,
                                 uid=uid, memory_mb=self.limits.memory_mb)
        finally:
            kill_user(uid)
            shutil.rmtree(folder, ignore_errors=True)
        grade.results, grade.pending = score(self.questions, verdicts, grade.why_not_run), False
        return grade

    def judge_pending(self, grades: list[Grade]) -> list[Grade]:
        """Judge the grades that were made before there was a reference."""
        return [self.judge(g) if g.pending else g for g in grades]

    @staticmethod
    def _read_executed(workspace: Workspace):
        for name in ("executed.ipynb", "progress.ipynb"):
            path = workspace.out / name
            if path.exists():
                try:
                    return nbformat.read(path, as_version=4)
                except Exception:  # noqa: S112 - a half-written notebook: the next one may be whole
                    continue
        return None

    def close(self) -> None:
        for executor in self.executors.values():
            executor.stop()
        for _, lock in [*self.uids, *self.judge_uids]:
            if lock is not None:
                lock.close()
        for kept in self._kept.values():  # kept working folders: their own file systems are unmounted too
            kept.remove()
        self._kept.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)


def first_error(executed) -> str:
    """'cell N (id): Error: message' for the first cell of ``executed`` that raised, or ''."""
    for number, cell in enumerate(executed.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {number} ({cell.get('id')}): {output.get('ename')}: {str(output.get('evalue'))[:300]}"
    return ""


def grade_all(grader: Grader, submissions: dict[str, Path], workers: int, progress: bool = True,
              each=None) -> list[Grade]:
    """Grade every submission, ``workers`` at a time, with a progress bar; ordered by learner id.

    ``each(grade)``, when given, is called as each grade comes (in this thread), after which the
    grade's executed notebook is dropped: the grader holds no more than ``workers`` of them at once."""
    grades = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(grader.grade, learner, path) for learner, path in submissions.items()]
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {grader.lab}",
                           unit="nb", disable=not progress):
            grade = future.result()
            if each is not None:
                each(grade)
                grade.executed = None  # the same object the future holds: dropped there too
            grades.append(grade)
    return sorted(grades, key=lambda g: g.learner)

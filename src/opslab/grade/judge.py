"""The judge: decides every point, in a process of its own that the learner's code never reaches.

``python -m opslab.grade.judge`` reads one job (JSON) on stdin and writes one verdict per question (JSON)
on stdout. The grader starts it after the learner's kernel and everything it started are gone, as a user
of its own (not the learner's sandbox user), with a copy of the plain data the learner's answer cells
wrote (:mod:`opslab.grade.answers`) and the same data from the lab's own solution, the *reference*.

For each question it runs the solution's judge cell (tag ``judge``), which never enters any kernel, with
``answer`` (the learner's data), ``reference`` (the solution's data for the same request), ``JUDGE_SEED``
and the helpers below. The cell passes when it ends, fails when it raises. Data is read with ``json``,
``numpy.load(allow_pickle=False)`` and Arrow's IPC reader only: builtin types, arrays and frames, never a
learner's object, method or ``__eq__``. Verdicts are fixed sentences: no test code, expected value or
exception text of a judge cell reaches the learner.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_JSON_BYTES = 64 * 2**20
ACCEPTED = ""
NOT_ACCEPTED = "not accepted: the answer does not do what the question asks"
NOT_REACHED = "no answer: the notebook did not get to this question (an earlier cell stopped it, or time ran out)"
UNREADABLE = "no answer: what the notebook sent for this question is not plain data the grader can read"


class BadAnswer(ValueError):
    """The learner's answer file is not plain data of the allowed forms."""


@dataclass(frozen=True)
class Answer:
    present: bool
    value: object = None
    error: str = ""  # the learner code's exception type, when it raised instead of answering
    unreadable: bool = False


# --- reading plain data ---------------------------------------------------------------------------------

def _side_file(folder: Path, name: object) -> Path:
    if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,200}", name) and ".." not in name):
        raise BadAnswer("a side file's name is not plain")
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise BadAnswer("a side file is missing or not a regular file")
    return path


def _frame(path: Path):
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with pa.memory_map(str(path), "r") as source:
        table = ipc.open_file(source).read_all()
    for field in table.schema:
        if isinstance(field.type, pa.ExtensionType):
            raise BadAnswer("an Arrow extension type is not plain data")
    return table.replace_schema_metadata(None).to_pandas()


def _rebuild(value, folder: Path, depth: int = 0):
    if depth > 64:
        raise BadAnswer("nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_rebuild(v, folder, depth + 1) for v in value]
    if type(value) is not dict:
        raise BadAnswer(f"unexpected JSON value {type(value).__name__}")
    if len(value) == 1:
        (key, inner), = value.items()
        if key == "__float__":
            if inner not in ("nan", "inf", "-inf"):
                raise BadAnswer("a float marker that is not nan or inf")
            return float(inner)
        if key == "__bytes__":
            if type(inner) is not str:
                raise BadAnswer("bytes not as base64 text")
            return base64.b64decode(inner, validate=True)
        if key == "__npy__":
            import numpy as np

            array = np.load(_side_file(folder, inner), allow_pickle=False)
            if array.dtype.hasobject:
                raise BadAnswer("an object array")
            return array
        if key in ("__frame__", "__series__"):
            frame = _frame(_side_file(folder, inner))
            if key == "__series__":
                if frame.shape[1] != 1:
                    raise BadAnswer("a series file with more than one column")
                return frame.iloc[:, 0]
            return frame
    return {k: _rebuild(v, folder, depth + 1) for k, v in value.items()}


def read_answer(folder: Path | None, question: str) -> Answer:
    """The answer the notebook wrote for ``question`` in ``folder`` (a copy the grader made), strictly read."""
    from opslab.grade.answers import file_name

    if folder is None:
        return Answer(False)
    path = folder / file_name(question, 0, ".json")
    if path.is_symlink() or not path.is_file():
        return Answer(False)
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise BadAnswer("too large")
        record = json.loads(path.read_text(encoding="utf-8"))
        if type(record) is not dict or record.get("question") != question:
            raise BadAnswer("not an answer record of this question")
        if "error" in record:
            error = record["error"]
            return Answer(True, error=error if isinstance(error, str) and error.isidentifier() else "an error")
        if "value" not in record:
            raise BadAnswer("no value")
        return Answer(True, _rebuild(record["value"], folder))
    except (BadAnswer, ValueError, TypeError, OSError, RecursionError, ImportError, MemoryError) as err:
        return Answer(True, unreadable=True, error=type(err).__name__)
    except Exception as err:  # noqa: BLE001 - a reader failure (Arrow, NumPy) is an unreadable answer
        return Answer(True, unreadable=True, error=type(err).__name__)


# --- helpers judge cells use ----------------------------------------------------------------------------

def same(got, want, rel: float = 1e-9, abs_tol: float = 0.0) -> bool:
    """``got`` equals ``want`` with the same plain types all the way down (floats within tolerance;
    an int where a float is wanted is fine, a bool is never a number; frames and arrays compared by value)."""
    import numpy as np
    import pandas as pd

    if isinstance(want, bool) or want is None or isinstance(want, str):
        return type(got) is type(want) and got == want
    if isinstance(want, int):
        return type(got) is int and got == want
    if isinstance(want, float):
        if type(got) not in (int, float):
            return False
        if math.isnan(want):
            return math.isnan(got)
        return got == want or math.isclose(got, want, rel_tol=rel, abs_tol=abs_tol)
    if isinstance(want, list):
        return (type(got) is list and len(got) == len(want)
                and all(same(g, w, rel, abs_tol) for g, w in zip(got, want, strict=False)))
    if isinstance(want, dict):
        return (type(got) is dict and got.keys() == want.keys()
                and all(same(got[k], want[k], rel, abs_tol) for k in want))
    if isinstance(want, bytes):
        return type(got) is bytes and got == want
    if isinstance(want, np.ndarray):
        return (type(got) is np.ndarray and got.shape == want.shape and got.dtype.kind == want.dtype.kind
                and bool(np.allclose(got, want, rtol=rel, atol=abs_tol, equal_nan=True)
                         if want.dtype.kind in "fc" else np.array_equal(got, want)))
    if isinstance(want, pd.DataFrame):
        if type(got) is not pd.DataFrame or list(got.columns) != list(want.columns) or got.shape != want.shape:
            return False
        try:
            pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), rtol=rel,
                                          atol=abs_tol, check_dtype=False)
        except AssertionError:
            return False
        return True
    if isinstance(want, pd.Series):
        return type(got) is pd.Series and same(got.to_frame(), want.to_frame(), rel, abs_tol)
    raise TypeError(f"same() does not compare {type(want).__name__}")


def shaped(value, kind) -> bool:
    """``value`` is exactly of ``kind`` (a type, or a dict of key -> kind for dicts with at least those keys)."""
    if isinstance(kind, dict):
        return type(value) is dict and all(k in value and shaped(value[k], v) for k, v in kind.items())
    if kind is float:
        return type(value) in (int, float)
    return type(value) is kind


def promql_agrees(pairs: list[tuple[str, str]], series: dict[str, str], at: str = "100s",
                  interval: str = "1s", tolerance: float = 1e-6) -> bool:
    """Every (learner's, reference) pair of PromQL expressions gives the same series, with the same labels
    and values within ``tolerance``, on the ``series`` given in promtool's notation (name{labels} ->
    '0+5x120'), at ``at``: decided by ``promtool test rules``, not by reading the expressions."""
    import subprocess
    import tempfile

    import yaml

    rules, tests = [], []
    for k, (mine, want) in enumerate(pairs):
        if type(mine) is not str or not mine.strip():
            return False
        rules += [{"record": f"judge:mine_{k}", "expr": mine}, {"record": f"judge:want_{k}", "expr": want}]
        pair = f"(judge:mine_{k} - judge:want_{k})"
        same_series = (f"(count({pair}) == bool count(judge:want_{k}))"
                       f" * (count(judge:mine_{k}) == bool count(judge:want_{k}))")
        tests += [{"expr": same_series,
                   "eval_time": at, "exp_samples": [{"labels": "{}", "value": 1}]},
                  {"expr": f"abs{pair} > {tolerance} * clamp_min(abs(judge:want_{k}), 1)", "eval_time": at,
                   "exp_samples": []}]
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "judge", "rules": rules}]}))
        Path(folder, "test.yml").write_text(yaml.safe_dump({
            "rule_files": ["rules.yml"], "evaluation_interval": interval,
            "tests": [{"interval": interval, "input_series": [{"series": n, "values": v} for n, v in series.items()],
                       "promql_expr_test": tests}]}))
        try:
            done = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=folder, capture_output=True,
                                  text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def judge_cell(source: str, answer: Answer, reference: Answer, seed: int, name: str = "<judge>") -> tuple[str, str]:
    """(verdict for the learner, note for the instructor) of one question; verdict '' when it passes."""
    if not answer.present:
        return NOT_REACHED, ""
    if answer.unreadable:
        return UNREADABLE, f"unreadable answer ({answer.error})"
    if answer.error:
        return f"no answer: your code raised {answer.error} when the grader asked for it", ""
    import numpy as np
    import pandas as pd

    namespace = {"__name__": "opslab_judge", "answer": answer.value, "JUDGE_SEED": seed, "same": same,
                 "shaped": shaped, "promql_agrees": promql_agrees, "np": np, "pd": pd,
                 "reference": reference.value if reference.present and not reference.error else None}
    try:
        exec(compile(source, name, "exec"), namespace)  # noqa: S102 - the solution's own judge cell
    except Exception as err:  # noqa: BLE001 - malformed answers make judge code raise: not accepted
        import traceback

        lines = [frame.lineno for frame in traceback.extract_tb(err.__traceback__) if frame.filename == name]
        where = f"line {lines[-1]}: {source.splitlines()[lines[-1] - 1].strip()[:200]} " if lines else ""
        return NOT_ACCEPTED, f"{where}({type(err).__name__}: {err})"[:600]
    return ACCEPTED, ""


def judge(job: dict) -> dict:
    answers = Path(job["answers"]) if job.get("answers") else None
    reference = Path(job["reference"]) if job.get("reference") else None
    verdicts = {}
    for question in job["questions"]:
        qid = question["id"]
        verdicts[qid] = judge_cell(question["source"], read_answer(answers, qid), read_answer(reference, qid),
                                   int(job["seed"]), f"<judge of {qid}>")
    return verdicts


# --- the grader's side: copying what the notebook wrote, and asking the judge ------------------------------

MAX_FILES, MAX_TOTAL = 2_000, 512 * 2**20


def copy_answers(source: Path, target: Path) -> Path | None:
    """Copy the answer files a notebook wrote in ``source`` into ``target`` (made here), reading nothing
    through a link and nothing but regular files, within a count and size limit; None when there are none.

    Run by the grader (maybe root) after the notebook's user has no process left: the copy is what the
    judge reads, so nothing the learner does later (or with links) changes it."""
    import stat

    try:
        fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    target.mkdir(parents=True)
    target.chmod(0o755)
    total = 0
    try:
        names = sorted(os.listdir(fd))[:MAX_FILES]
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,200}", name):
                continue
            try:
                handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            except OSError:
                continue
            with os.fdopen(handle, "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode) or total + info.st_size > MAX_TOTAL:
                    continue
                data = f.read(info.st_size + 1)[:info.st_size]
            total += len(data)
            out = target / name
            out.write_bytes(data)
            out.chmod(0o644)
    finally:
        os.close(fd)
    return target


def ask(questions: list[dict], answers: Path | None, reference: Path | None, seed: int, cwd: Path,
        uid: int = 0, timeout: float = 300, memory_mb: int = 4096) -> dict[str, tuple[str, str]]:
    """Run the judge process (as ``uid`` when not 0) on one submission's answers; question -> (verdict, note).

    A judge that fails or runs out of time decides nothing: every question gets a verdict saying so."""
    import subprocess

    job = {"questions": questions, "answers": str(answers) if answers else None,
           "reference": str(reference) if reference else None, "seed": seed, "cwd": str(cwd)}
    # -P: the judge's folder (where judge cells write the learner's files) is never on the import path
    argv = [sys.executable, "-P", "-m", "opslab.grade.judge"]
    if uid:  # through the kernels' jail, without bubblewrap: its own user, no network, a memory limit
        from opslab.grade.sandbox import interpreter_paths

        jail = [sys.executable, "-S", str(Path(__file__).with_name("jail.py")), "--memory-mb", str(memory_mb),
                "--uid", str(uid), "--own", str(cwd), "--workdir", str(cwd), "--weak", "--no-network"]
        for path in [*interpreter_paths(), *(str(p) for p in (answers, reference) if p), str(cwd)]:
            jail += ["--expose", path]
        argv = [*jail, "--", *argv]
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "PYTHONPATH") if k in os.environ}
    env.update({"HOME": str(cwd), "TMPDIR": str(cwd), "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"})
    try:
        done = subprocess.run(argv, input=json.dumps(job), capture_output=True, text=True, timeout=timeout,
                              cwd=cwd, env=env)
        verdicts = json.loads(done.stdout) if done.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, OSError) as err:
        verdicts, done = None, err
    if not isinstance(verdicts, dict):
        why = getattr(done, "stderr", "") or str(done)
        note = f"the judge failed: {str(why).strip()[-400:]}"
        return {q["id"]: ("not judged: the grader's judge failed (see the gradebook)", note) for q in questions}
    return {q["id"]: tuple(verdicts.get(q["id"], (NOT_REACHED, "")))[:2] for q in questions}


def main() -> int:
    job = json.loads(sys.stdin.read())
    os.chdir(job.get("cwd") or os.getcwd())
    verdicts = judge(job)
    sys.stdout.write(json.dumps({qid: list(v) for qid, v in verdicts.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Grading every lab from a non-editable install outside the repository (the tests are in
tests/test_grade_labs*.py, one file per module or two, so that pytest-xdist spreads them).

One grading run of each lab keeps several promises at once:

* the solution runs to its end with no error in any cell (what nbval used to check by running it again);
* its cells tagged ``nbval-check-output`` print what scripts/record_outputs.py recorded, compared as
  ``pytest --nbval-lax`` would (nbval's own stream merging, tests/sanitize.cfg);
* the grader gives it full marks, and the untouched learner version zero for the exercises;
* the untouched learner version raises only in cells tagged ``raises-exception``, the rule under which
  the book executes it (tests/test_book.py executes one lab itself and relies on this for the others);
* the solution leaves no process running when its last cell ends (its servers are stopped);
* where a lab keeps state from run to run (``rerun=True``), the learner version is graded first and the
  solution then in the home it left (its registry, repositories, stores), as a learner who runs the lab,
  fills in the exercises and runs it again would: every promise above holds on that second run too;
* and it does so *wherever the course is installed*: the grader, its executor and every kernel use a
  fresh virtual environment where opslab is installed non-editable, run from a private folder (mode 700)
  outside the repository; as root each kernel also runs as its own sandbox user with no network. A lab
  that reaches into the clone (``Path(opslab.__file__).parents[2] / ...``) fails here.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import coalesce_streams, get_sanitize_patterns
from record_outputs import is_checked

from conftest import REPO, once_per_run
from opslab.assign import render
from opslab.assign.markers import has_solution
from opslab.assign.questions import PARAMETERS, RAISES, form_problems, is_graded, is_judge, question_of, tags

SANITIZE = get_sanitize_patterns((REPO / "tests" / "sanitize.cfg").read_text())
NOT_COMPARED = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}  # nbval's defaults


# --- a non-editable install outside the repository ----------------------------------------------------------

@dataclass
class OutsideInstall:
    """A virtual environment in a private folder: opslab installed non-editable (``pip install --no-deps``
    of a copy of the repository's package), everything else seen from the course venv through a .pth
    file of plain paths (no second install of ~300 packages; the course venv's own .pth files, among
    them the editable opslab's, are not processed)."""

    private: Path
    python: Path
    purelib: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        return {**env, "VIRTUAL_ENV": str(self.python.parents[1]),
                "PATH": f"{self.python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.python), *args], cwd=cwd or self.private, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


def console_scripts(course_bin: Path, python: Path) -> None:
    """The course venv's commands (mlflow, dvc, act, ...) in the new venv's bin, as a real install of
    those packages would put them there: Python scripts re-pointed at the new interpreter (so they
    import the non-editable opslab), other executables copied (the sandbox user cannot reach the
    course venv's bin when the clone sits in a private folder)."""
    for script in sorted(course_bin.iterdir()):
        target = python.parent / script.name
        if target.exists() or not script.is_file():
            continue
        data = script.read_bytes()
        first, _, body = data.partition(b"\n")
        if first.startswith(b"#!") and b"python" in first:
            target.write_bytes(b"#!" + str(python).encode() + b"\n" + body)
        else:
            target.write_bytes(data)
        target.chmod(0o755)


def make_outside_venv(private: Path) -> None:
    """Fill ``private`` with ``venv/``: opslab installed non-editable from a copy of the clone's package."""
    venv = private / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "course-venv.pth").write_text("".join(f"{p}\n" for p in site.getsitepackages()))
    source = private / "source"  # a copy: building in the clone would leave build/ and *.egg-info there
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    console_scripts(Path(sys.executable).parent, python)
    done = OutsideInstall(private, python, purelib).run(
        "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(source), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.rmtree(source)


@functools.cache
def outside_venv() -> tuple[Path, Path]:
    """The outside install's (python, purelib): made once per pytest run, in a private folder (mode 700) of
    the run's temporary folder, and shared by every grading file on every worker (tests/conftest.py)."""
    private = once_per_run("opslab-outside", make_outside_venv)
    assert not private.resolve().is_relative_to(REPO) and (private.stat().st_mode & 0o777) == 0o700
    python = private / "venv" / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    return python, purelib


@pytest.fixture(scope="module")
def outside():
    """The outside install, with a private folder (mode 700, outside the repository) of this test file's own
    where its labs are graded (removed at its end)."""
    python, purelib = outside_venv()
    private = Path(tempfile.mkdtemp(prefix="opslab-outside-"))  # mode 700: a learner's private folder
    try:
        assert not private.resolve().is_relative_to(REPO) and (private.stat().st_mode & 0o777) == 0o700
        shutil.copy2(Path(__file__).with_name("grade_outside.py"), private / "grade_outside.py")
        yield OutsideInstall(private, python, purelib)
    finally:
        shutil.rmtree(private, ignore_errors=True)


# --- grading every lab there ------------------------------------------------------------------------------

def exercise_questions(solution) -> set[str]:
    """Questions whose graded cells follow an exercise (a solution block since the previous question).

    Other questions check the guided part of a lab, which the learner version runs unchanged."""
    found, since_last = set(), False
    for cell in solution.cells:
        if is_graded(cell) and question_of(cell):
            if since_last:
                found.add(question_of(cell)["question"])
            since_last = False
        elif cell.cell_type == "code" and has_solution(cell.source):
            since_last = True
    return found


def sanitize(text: str) -> str:
    for regex, replace in SANITIZE:
        text = re.sub(regex, replace, text)
    return text


def comparable(outputs) -> dict[str, list[str]]:
    """A cell's outputs as ``pytest --nbval-lax`` compares them: streams merged per name (\\r and \\b
    applied), other outputs by MIME type, images not compared, everything through tests/sanitize.cfg."""
    found = defaultdict(list)
    for output in coalesce_streams([nbformat.from_dict(copy.deepcopy(o)) for o in outputs]):
        if output.output_type == "stream":
            found[output.name].append(sanitize(output.text))
        elif output.output_type == "error":
            found["error"].append(f"{output.ename}: {output.evalue}")
        else:
            for mime, value in output.get("data", {}).items():
                if mime not in NOT_COMPARED:
                    found[mime].append(sanitize(value if isinstance(value, str) else json.dumps(value)))
    return dict(found)


def errors_in(executed, cells=None) -> list[str]:
    """The errors ``executed`` shows, in every cell or only in those whose id is in ``cells``."""
    return [f"cell {cell.get('id')}: {o.get('ename')}: {o.get('evalue')}" for cell in executed.cells
            if cells is None or cell.get("id") in cells
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def grade_outside(outside: OutsideInstall, solution: Path, learner_version: str,
                  rerun: bool = False) -> tuple[dict, dict]:
    """Grade the solution and its untouched learner version with the outside install, from a private folder
    (``rerun``: the solution in the home the learner version's run left, kept afterwards in <folder>/out/home)."""
    folder = outside.private / solution.stem
    (folder / "solution").mkdir(parents=True)  # the grader hides this folder from the kernels
    (folder / "submissions").mkdir()
    (folder / "out").mkdir()
    source = folder / "solution" / solution.name
    source.write_bytes(solution.read_bytes())
    (folder / "submissions" / "solution.ipynb").write_bytes(solution.read_bytes())
    (folder / "submissions" / "untouched.ipynb").write_text(learner_version)
    done = outside.run(str(outside.private / "grade_outside.py"), str(source), str(folder / "submissions"),
                       str(folder / "out"), *(["--rerun"] if rerun else []), cwd=folder, timeout=2400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((folder / "out" / "report.json").read_text())
    executed = {learner: nbformat.read(folder / "out" / f"{learner}.executed.ipynb", as_version=4)
                for learner in report["grades"] if (folder / "out" / f"{learner}.executed.ipynb").exists()}
    return report, executed


def check_lab(solution: Path, outside: OutsideInstall, rerun: bool = False) -> Path | None:
    """Grade ``solution`` and its untouched learner version from ``outside``; check everything promised above.
    With ``rerun``, returns the lab's folder in the home after the solution's run (for checks of what it saved)."""
    learner_version = render(solution, "https://example.org/repo")
    report, executed = grade_outside(outside, solution, learner_version, rerun)
    assert Path(report["opslab"]).parent == outside.purelib / "opslab", "graded with the clone's opslab"
    source = nbformat.read(solution, as_version=4)
    full, untouched = report["grades"]["solution"], report["grades"]["untouched"]
    assert form_problems(source) == [], "every question in the judge's form (CONTRIBUTING.md)"
    # the judge cells, which decide every point, never ran in (or reached) a learner's kernel
    judges = [cell.source for cell in source.cells if is_judge(cell)]
    for name, nb in executed.items():
        text = nbformat.writes(nb)
        assert not [j for j in judges if j.strip() in text], f"a judge cell reached {name}'s notebook"

    # the solution: every cell ran without error, in the sandbox, from the non-editable install
    errors = errors_in(executed["solution"]) if "solution" in executed else ["no executed notebook"]
    assert (full["status"], errors) == ("ok", []), f"{full['detail']} ({report['isolation']}): {errors}"
    # ... its determinism checks print what was recorded (as pytest --nbval-lax compared them)
    ran = {cell.get("id"): cell for cell in executed["solution"].cells}
    for cell in (c for c in source.cells if c.cell_type == "code" and is_checked(c)):
        assert cell.id in ran and ran[cell.id].source == cell.source, f"checked cell {cell.id} was not run"
        assert comparable(ran[cell.id].outputs) == comparable(cell.outputs), (
            f"{solution.name}, cell {cell.id}: output differs from the recorded one "
            "(deliberate? python scripts/record_outputs.py " f"solutions/{solution.name})")
    # ... and it earns every point
    points = {r["id"]: (r["earned"], r["points"]) for r in full["results"]}
    assert sum(p for _, p in points.values()) > 0 and sorted(points) == sorted(report["questions"])
    assert all(earned == maximum for earned, maximum in points.values()), [
        r for r in full["results"] if r["earned"] != r["points"]]

    # the untouched learner version: it runs, and earns nothing for the exercises, everything for the rest
    assert untouched["status"] == "ok", untouched["detail"]
    exercises = exercise_questions(source)
    assert exercises, "a lab without exercises"
    earned = {r["id"]: r for r in untouched["results"]}
    assert {q: earned[q]["earned"] for q in exercises} == dict.fromkeys(exercises, 0)
    assert all(earned[q]["message"] for q in exercises)
    guided = [r for r in untouched["results"] if r["id"] not in exercises]  # checks of the walk-through
    assert [r["earned"] for r in guided] == [r["points"] for r in guided], guided
    assert nbformat.validate(executed["untouched"]) is None
    # ... and, as the book executes it (allow_errors: false), it raises only where a stub is tagged to
    learner = nbformat.reads(learner_version, as_version=4).cells
    graded_ids = {cell.get("id") for cell in executed["untouched"].cells}
    own = {cell.id for cell in learner if cell.cell_type == "code" and not is_graded(cell)
           and PARAMETERS not in tags(cell)}  # the grader runs its own copy of checks and parameters
    assert own and own <= graded_ids, f"learner cells the grader did not run: {own - graded_ids}"
    unexpected = errors_in(executed["untouched"], cells={cell.id for cell in learner if RAISES not in tags(cell)})
    assert unexpected == [], f"{solution.stem}: the book's build of the learner version would fail on {unexpected}"

    # ... and it left nothing running when its last cell ended (the sandbox would stop it; a learner's machine not)
    assert full["left"] == [], f"{solution.name} left processes running at its end: {full['left']}"
    if not rerun:
        return None
    # with rerun, the solution ran in the home the learner version left (its registry, repositories, stores):
    # everything above held there, and the lab worked in its own folder under OPSLAB_HOME
    lab = outside.private / solution.stem / "out" / "home" / solution.stem
    assert lab.is_dir(), "the lab should work in its own folder under OPSLAB_HOME"
    return lab

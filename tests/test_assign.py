"""opslab assign: learner notebooks are generated, up to date, leak nothing, and their stubs raise."""

from __future__ import annotations

import filecmp
from pathlib import Path

import nbformat
import pytest

from opslab.assign import assign_all, render, solution_notebooks, stale_labs
from opslab.assign.learner import PLACEHOLDERS, NeedsError, fill_placeholders, learner_version
from opslab.assign.markers import BEGIN, END, PROMPT, MarkerError, has_solution, strip_solutions
from opslab.assign.questions import is_hidden, question_of, questions
from opslab.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "fixtures" / "tiny.ipynb"
SOLUTIONS = solution_notebooks(REPO / "solutions") if (REPO / "solutions").is_dir() else []


def learner(path: Path):
    return nbformat.reads(render(path), as_version=4)


def test_committed_labs_match_a_fresh_assign(tmp_path):
    """CI catches hand edits to labs/ and forgotten regenerations: `opslab assign` must be a no-op."""
    fresh = tmp_path / "labs"
    assign_all(REPO / "solutions", fresh, REPO / "_config.yml") if SOLUTIONS else fresh.mkdir()
    committed = sorted(p.name for p in (REPO / "labs").glob("*.ipynb")) if (REPO / "labs").is_dir() else []
    expected = sorted(p.name for p in fresh.glob("*.ipynb"))
    assert committed == expected, "labs/ and solutions/ hold different labs: run `opslab assign`"
    stale = [n for n in committed if not filecmp.cmp(REPO / "labs" / n, fresh / n, shallow=False)]
    assert not stale, f"labs/ is stale or edited by hand: {stale}; run `opslab assign` and commit"
    assert stale_labs(REPO / "solutions", REPO / "labs", REPO / "_config.yml") == []


def solution_only_lines(solution) -> set[str]:
    """Lines written only inside solution blocks (not also elsewhere in the solution notebook)."""
    inside, outside = set(), set()
    for cell in solution.cells:
        in_block = False
        for line in cell.source.splitlines():
            if BEGIN.match(line):
                in_block = True
            elif END.match(line):
                in_block = False
            elif in_block and not PROMPT.match(line):
                inside.add(line.strip())
            else:
                outside.add(line.strip())
    return {line for line in inside - outside if len(line) > 3}


@pytest.mark.parametrize("path", [TINY, *SOLUTIONS], ids=lambda p: p.stem)
def test_no_solution_or_hidden_test_leaks_into_the_lab(path):
    solution = nbformat.read(path, as_version=4)
    text = render(path)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    lab_lines = {line.strip() for c in nbformat.reads(text, as_version=4).cells for line in c.source.splitlines()}
    leaked = sorted(solution_only_lines(solution) & lab_lines)
    assert not leaked, f"solution text in the learner version of {path.name}: {leaked}"
    for cell in solution.cells:
        if is_hidden(cell):
            assert cell.source.strip() not in text
            assert cell.id not in {c.id for c in nbformat.reads(text, as_version=4).cells}


@pytest.mark.parametrize("path", [TINY, *SOLUTIONS], ids=lambda p: p.stem)
def test_lab_layout_bootstrap_tags_and_questions(path):
    solution, lab = nbformat.read(path, as_version=4), learner(path)
    first = lab.cells[0]
    source = f"git+https://github.com/{PLACEHOLDERS['repository']}@{PLACEHOLDERS['commit']}"
    assert first.metadata["tags"] == ["remove-cell"] and source in first.source, "the book build fills these in"
    needs = solution.metadata["opslab"]["needs"]
    extras = f"[{','.join(needs['extras'])}]" if needs["extras"] else ""
    assert f'%pip install -q "opslab{extras} @ $SOURCE"' in first.source, "only the extras the lab declares"
    assert f"provide({path.stem!r}, tools={needs['tools']!r})" in first.source
    assert lab.metadata["opslab"]["needs"] == needs
    for cell in lab.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if "check" in cell.metadata.get("tags", []) or "raise NotImplementedError(" in cell.source:
            assert "raises-exception" in cell.metadata["tags"], cell.source
    kept = {question_of(c)["question"] for c in lab.cells if question_of(c)}
    public = {question_of(c)["question"] for c in solution.cells if question_of(c) and not is_hidden(c)}
    assert kept == public and kept <= {q.id for q in questions(solution)}
    assert lab.metadata["opslab"]["lab"] == path.stem


@pytest.mark.parametrize("path", [TINY, *SOLUTIONS], ids=lambda p: p.stem)
def test_the_book_shows_an_exercise_as_an_exercise(path):
    """In the book, an exercise's code stays in view with the stub's traceback folded away; a check's code
    is folded away and its output (in the learner version, only its failure) removed; nothing else moves."""
    solution, lab = nbformat.read(path, as_version=4), learner(path)
    by_id = {c.id: c for c in solution.cells}
    book_tags = {"hide-input", "hide-output", "remove-output"}
    exercises = checks = 0
    for cell in lab.cells[1:]:
        tags = set(cell.metadata.get("tags", []))
        is_check = "check" in tags or question_of(cell) is not None
        is_exercise = has_solution(by_id[cell.id].source) if cell.cell_type == "code" else False
        if is_check:
            checks += 1
            assert {"hide-input", "remove-output"} <= tags, cell.source[:80]
        if is_exercise:
            exercises += 1
            assert "hide-output" in tags and "hide-input" not in tags, cell.source[:80]
        if not (is_check or is_exercise):
            original = set(by_id[cell.id].metadata.get("tags", []))
            assert tags & book_tags == original & book_tags, f"a plain cell was folded: {cell.source[:80]}"
    assert exercises and checks, "every lab has exercises and checks"


def test_tiny_lab_stubs_raise_with_their_hint():
    cells = [c for c in learner(TINY).cells if "raises-exception" in c.metadata.get("tags", [])
             and "check" not in c.metadata["tags"]]
    scope: dict = {"N": 10}
    exec(cells[0].source, scope)  # def double(x): raise NotImplementedError(...)
    with pytest.raises(NotImplementedError, match="^return twice x$"):
        scope["double"](2)
    with pytest.raises(NotImplementedError, match="compute the mean of the numbers 1..N"):
        exec(cells[1].source, scope)
    assert cells[2].source.startswith("greeting = ...  # a string that says hello")


def test_self_learners_can_have_the_solutions_folded_after_each_exercise(tmp_path):
    """``opslab: {publish_solutions: true}`` in _config.yml: each exercise is followed by its solution in
    a dropdown; the course's own _config.yml keeps it off, so labs/ carry none (see the leak test)."""
    from opslab.assign import publish_solutions

    assert publish_solutions(REPO / "_config.yml") is False
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://example.org/r\nopslab:\n  publish_solutions: true\n")
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "tiny.ipynb").write_bytes(TINY.read_bytes())
    assert main(["assign", "--solutions", str(tmp_path / "solutions"), "--labs", str(tmp_path / "labs"),
                 "--config", str(config)]) == 0
    cells = nbformat.read(tmp_path / "labs" / "tiny.ipynb", as_version=4).cells
    exercises = [i for i, c in enumerate(cells) if "NotImplementedError" in c.source or "greeting = ..." in c.source]
    assert len(exercises) == 3
    for i in exercises:
        folded = cells[i + 1]
        assert folded.cell_type == "markdown" and folded.source.startswith("````{admonition} A solution")
        assert ":class: dropdown" in folded.source and "BEGIN SOLUTION" not in folded.source
    assert "return 2 * x" in cells[exercises[0] + 1].source
    assert "SECRET-HIDDEN-TEST" not in "".join(c.source for c in cells)  # hidden tests stay hidden
    config.write_text("opslab:\n  publish_solutions: false\n")
    assert main(["assign", "--solutions", str(tmp_path / "solutions"), "--labs", str(tmp_path / "labs"),
                 "--config", str(config)]) == 0
    assert "return 2 * x" not in (tmp_path / "labs" / "tiny.ipynb").read_text()


def test_assign_is_byte_identical_and_removes_labs_without_a_solution(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "tiny.ipynb").write_bytes(TINY.read_bytes())
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "orphan.ipynb").write_text("{}")
    config = tmp_path / "_config.yml"
    config.write_text("opslab:\n  publish_solutions: false\n")
    args = ["assign", "--solutions", str(tmp_path / "solutions"), "--labs", str(tmp_path / "labs"),
            "--config", str(config)]
    assert main(args) == 0
    first = (tmp_path / "labs" / "tiny.ipynb").read_bytes()
    assert main(args) == 0
    assert (tmp_path / "labs" / "tiny.ipynb").read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "labs").iterdir()) == ["tiny.ipynb"]
    assert main([*args, "--check"]) == 0
    (tmp_path / "labs" / "tiny.ipynb").write_text(first.decode().replace("return twice x", "edited by hand"))
    assert main([*args, "--check"]) == 1
    assert stale_labs(tmp_path / "solutions", tmp_path / "labs", config) == ["tiny.ipynb"]


def test_a_lab_without_declared_needs_is_refused():
    solution = nbformat.read(TINY, as_version=4)
    del solution.metadata["opslab"]
    with pytest.raises(NeedsError, match="declare the lab's needs"):
        learner_version(solution, "tiny")
    solution.metadata["opslab"] = {"needs": {"extras": "tracking"}}
    with pytest.raises(NeedsError, match="needs.extras must be a list"):
        learner_version(solution, "tiny")


def test_the_install_cell_installs_its_pin_holding_what_is_loaded_and_refuses_an_unfilled_one(monkeypatch):
    """Run in a real IPython shell with opslab "missing" (as on Colab) and pip's magic recording its line: the
    filled cell installs exactly the declared extras at the commit, with every package the kernel has loaded
    held at its version; if that cannot be, it installs anyway and says to restart; the cell as committed,
    placeholders unfilled, stops with one sentence and never calls pip."""
    import importlib.util
    from importlib import metadata

    from IPython.core.interactiveshell import InteractiveShell

    from opslab.where import Where

    sha = "ab" * 20
    pinned = f'"opslab[tracking] @ git+https://github.com/example-org/example-course@{sha}"'
    shell = InteractiveShell.instance()
    calls, state = [], {"resolvable": True, "installed": False}

    def pip(line):
        calls.append(line)
        if " -c " not in line or state["resolvable"]:
            state["installed"] = True

    shell.register_magic_function(pip, "line", "pip")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (real("opslab") if state["installed"] else None) if name == "opslab"
                        else real(name, *a))
    cell = fill_placeholders(learner(TINY).cells[0].source, Where("example-org/example-course", sha, "x/y"))
    assert shell.run_cell(cell).success
    assert len(calls) == 1 and calls[0].startswith('install -q -c "') and calls[0].endswith(pinned), calls
    held = Path(calls[0].split('"')[1]).read_text().splitlines()
    assert f"ipython=={metadata.version('ipython')}" in held, "the kernel's own IPython stays as it is"

    calls.clear()
    state.update(resolvable=False, installed=False)
    result = shell.run_cell(cell)
    assert len(calls) == 2 and calls[1] == f"install -q {pinned}", calls
    assert isinstance(result.error_in_exec, SystemExit) and "restart the runtime" in str(result.error_in_exec)

    calls.clear()
    state.update(resolvable=True, installed=False)
    result = shell.run_cell(learner(TINY).cells[0].source)
    assert isinstance(result.error_in_exec, SystemExit) and "open it from the course site" in str(result.error_in_exec)
    assert calls == []


def test_stub_keeps_the_marker_indentation_and_code_around_it():
    source = "def f(x):\n    y = 1\n    # BEGIN SOLUTION: add y\n    return x + y\n    # END SOLUTION\nf(0)"
    expected = 'def f(x):\n    y = 1\n    raise NotImplementedError("add y")\nf(0)'
    assert strip_solutions(source) == expected
    assert strip_solutions("# BEGIN SOLUTION\nx = 1\n# END SOLUTION") == (
        'raise NotImplementedError("write your solution here")')


@pytest.mark.parametrize("source, problem", [
    ("# BEGIN SOLUTION\nx = 1", "without END"),
    ("x = 1\n# END SOLUTION", "without BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside another"),
])
def test_unpaired_markers_are_named(source, problem):
    with pytest.raises(MarkerError, match=problem):
        strip_solutions(source, "lab x, cell 3")

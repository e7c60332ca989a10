"""Every chapter of the modules (and of the capstone, once it exists) opens with prerequisites, objectives
and a time estimate, ends with further reading, and shows figures that exist; every committed screenshot is
shown somewhere; the committed diagrams are what their scripts draw."""

from __future__ import annotations

import importlib
import json
import re

import pytest

from conftest import REPO

# Every chapter of every module and of the capstone, found by glob so that a new one is held to the same form
# the day it lands; book/before_you_start.md (the primer) is held to it too. Not chapters, so not included:
# book/intro.md (the book's landing page) and
# book/instructors/*.md (reference pages for teachers, with no lab to prepare for).
CHAPTERS = sorted({*(REPO / "book").glob("m[0-9]*/**/*.md"), *(REPO / "book" / "capstone").glob("*.md"),
                   REPO / "book" / "before_you_start.md"})
FIGURE = re.compile(r"^```\{figure\}\s+(\S+)", re.MULTILINE)


def test_there_are_chapters():
    modules = {p.relative_to(REPO / "book").parts[0] for p in CHAPTERS}
    assert {"m1", "m2", "m3", "m4", "m5", "m6"} <= modules, f"chapters found only in {sorted(modules)}"
    assert len(CHAPTERS) >= 16


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_chapter_opens_with_what_it_needs_and_gives_and_ends_with_further_reading(chapter):
    text = chapter.read_text()
    opening = text[: text.index("\n## ")]  # before the first section
    for marker in ("**Prerequisites.**", "**You will be able to**", "**Time.**"):
        assert marker in opening, f"{chapter.name}: no {marker} before the first section"
    last_section = text.rsplit("\n## ", 1)[1]
    assert last_section.startswith("Further reading"), f"{chapter.name}: the last section is not Further reading"
    assert re.search(r"^- ", last_section, re.MULTILINE), f"{chapter.name}: further reading lists nothing"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_chapter_shows_figures_that_exist(chapter):
    figures = FIGURE.findall(chapter.read_text())
    assert figures, f"{chapter.name} has no figure"
    for figure in figures:
        assert (chapter.parent / figure).is_file(), f"{chapter.name}: {figure} does not exist"


def test_every_screenshot_is_shown_in_a_chapter():
    shown = {(chapter.parent / f).resolve() for chapter in CHAPTERS for f in FIGURE.findall(chapter.read_text())}
    screens = sorted((REPO / "book" / "figures" / "screens").glob("*.png"))
    assert screens, "no screenshots: run scripts/screenshots.py"
    unused = [p.name for p in screens if p.resolve() not in shown]
    assert not unused, f"screenshots no chapter shows: {unused}"


@pytest.mark.parametrize("script", ["figures_m1_m3", "m4_figures"])
def test_the_committed_diagrams_are_what_their_script_draws(script, tmp_path, monkeypatch):
    """Redraw every diagram into a scratch book folder and compare byte for byte with the committed SVG:
    a diagram edited in the script but not redrawn (or an SVG edited by hand) fails here."""
    module = importlib.import_module(script)
    book = tmp_path / "book"
    for sub in ("m1", "m2", "m3", "m4"):
        (book / sub).mkdir(parents=True)
    monkeypatch.setattr(module, "BOOK", book)
    if hasattr(module, "OUT"):
        monkeypatch.setattr(module, "OUT", book / "m4" / "ci_flow.svg")
    drawn = module.main()
    assert drawn, f"{script} drew nothing"
    for path in drawn:
        committed = REPO / "book" / path.relative_to(book)
        assert committed.is_file(), f"{committed.name} is drawn but not committed"
        assert path.read_text() == committed.read_text(), f"{committed.name} is stale: run scripts/{script}.py"


# --- nothing given away: a chapter teaches the idea with another example than its lab's exercise ---------------

LITERALINCLUDE = re.compile(r"^```\{literalinclude\}\s+(\S+)", re.MULTILINE)
SOLUTION_BLOCK = re.compile(r"#\s*BEGIN SOLUTION[^\n]*\n(.*?)#\s*END SOLUTION", re.DOTALL)


def normalized(line: str) -> str:
    """A line of code as it would read in a chapter: Python string quoting, f-string braces, a range
    window and spacing removed, so `f'sum(rate(x{{a="b"}}[{WINDOW}]))'` meets `sum(rate(x{a="b"}[5m]))`."""
    line = line.strip().rstrip("\\").strip()
    line = re.sub(r"^[A-Z_]+\s*=\s*\(?", "", line)                    # NAME = ( ...
    line = re.sub(r"""^f?["']{1,3}|["']{1,3}\)?,?$""", "", line.strip())  # string quotes
    line = line.replace("{{", "{").replace("}}", "}").replace("\\\\", "\\")
    line = re.sub(r"\[(\{\w+\}|\d+[smhd])\]", "[W]", line)
    return re.sub(r"\s+", " ", line).strip()


def solution_only_lines(lab: str) -> set[str]:
    """The lines of a lab's solution blocks that its learner notebook does not show (the answer)."""
    def cells(folder):
        return ["".join(c["source"]) for c in json.loads((REPO / folder / f"{lab}.ipynb").read_text())["cells"]]
    learner = " ".join(normalized(line) for text in cells("labs") for line in text.splitlines())
    lines = set()
    for text in cells("solutions"):
        for block in SOLUTION_BLOCK.findall(text):
            for line in block.splitlines():
                norm = normalized(line)
                if len(norm) >= 30 and not norm.startswith("#") and norm not in learner:
                    lines.add(norm)
    return lines


def chapter_text(chapter) -> str:
    """The chapter as a reader sees it: its text with every literalinclude'd file inlined."""
    text = chapter.read_text()
    for include in LITERALINCLUDE.findall(text):
        text += "\n" + (chapter.parent / include).read_text()
    return text


def test_normalizing_meets_a_query_written_in_python_and_in_a_chapter():
    assert normalized("""REQUEST_RATE = f'sum(rate(x_total{{endpoint="/p"}}[{WINDOW}]))'""") == \
        normalized('sum(rate(x_total{endpoint="/p"}[5m]))')
    line = "RUN pip wheel --no-deps --wheel-dir /wheels . \\\\"
    assert normalized(line) == "RUN pip wheel --no-deps --wheel-dir /wheels ."


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_chapter_prints_no_line_of_a_lab_answer(chapter):
    """Lab 6.1's Dockerfile and Lab 5.2's PromQL were once printed in the chapters just before them. A lab is
    flagged when two or more lines of its answer (lines the learner's notebook does not already show) are
    in a chapter; one shared line is usually an API call any example makes."""
    text = {normalized(line) for line in chapter_text(chapter).splitlines()}
    text_flat = " ".join(text)
    given = {}
    for lab in sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb")):
        found = [line for line in solution_only_lines(lab) if line in text or line in text_flat]
        if len(found) >= 2:
            given[lab] = found
    assert not given, f"{chapter.name} prints lines of these labs' answers: {given}"

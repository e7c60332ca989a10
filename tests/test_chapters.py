"""The chapters of Modules 1-3 and the capstone open with prerequisites, objectives and a time estimate,
end with further reading, and show figures that exist; every committed screenshot is shown somewhere."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

CHAPTERS = sorted(p for module in ("m1", "m2", "m3", "capstone") for p in (REPO / "book" / module).glob("*.md"))
FIGURE = re.compile(r"^```\{figure\}\s+(\S+)", re.MULTILINE)


def test_there_are_chapters():
    assert len(CHAPTERS) >= 6


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

"""Finding your way: every lab's title carries its number, every "Lab N.M" in the book and the notebooks
points at the lab of that number, every lab states its time, and the course's total adds up.

A lab's number lives in one place, its title (the first Markdown line of ``solutions/<lab>.ipynb``); a
chapter that cites "Lab 2.2, *compare, reproduce, roll back*" when that title belongs to Lab 2.4 sends a
learner to the wrong notebook, so the words cited next to a number are checked against its title too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO

SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))
TITLE = re.compile(r"^# (?:Lab (?P<number>\d+\.\d+)|(?P<capstone>Capstone)): (?P<name>.+)$")
TIME = re.compile(r"^\*\*Time\.\*\* About (?P<minutes>\d+) minutes\b.*\bBasis: \S", re.MULTILINE)
# "Lab 2.4", "lab 4.1", "Labs 5.2 and 5.3", "Labs 2.1-2.3"
REFERENCE = re.compile(r"\b[Ll]abs? (?P<numbers>\d+\.\d+(?:(?:, | and | or |-|–)\d+\.\d+)*)")
# what a reference may say the lab is called: "[Lab 3.1, *A REST API ...*](...)", "Lab 2.4, *...*",
# "Lab 2.4 (*...*)", "[Lab 5.3: Alerts that reach a person](...)"
NAMED = re.compile(r"\b[Ll]ab (?P<number>\d+\.\d+)(?:, \*(?P<a>[^*]+)\*| \(\*(?P<b>[^*]+)\*\)|: (?P<c>[^\]\n]+)\])")
LINKED = re.compile(r"\[[Ll]ab (?P<number>\d+\.\d+)[^\]]*\]\((?P<target>[^)#]+\.ipynb)\)")


def first_cell(path: Path) -> str:
    return "".join(json.loads(path.read_text())["cells"][0]["source"])


def titles() -> dict[str, tuple[str, str]]:
    """Lab stem -> (number or "Capstone", its name), from each solution's title line."""
    found = {}
    for path in SOLUTIONS:
        match = TITLE.match(first_cell(path).splitlines()[0])
        if match:
            found[path.stem] = (match["number"] or "Capstone", match["name"])
    return found


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def reference_errors(text: str, by_number: dict[str, tuple[str, str]]) -> list[str]:
    """What is wrong with the "Lab N.M" references of ``text``, given number -> (stem, name)."""
    errors = []
    for match in REFERENCE.finditer(text):
        for number in re.findall(r"\d+\.\d+", match["numbers"]):
            if number not in by_number:
                errors.append(f"Lab {number} does not exist")
    for match in NAMED.finditer(text):
        number, said = match["number"], match["a"] or match["b"] or match["c"]
        if number in by_number and not " ".join(words(by_number[number][1])).startswith(" ".join(words(said))):
            errors.append(f"Lab {number} is called {said!r} here, but its title is {by_number[number][1]!r}")
    for match in LINKED.finditer(text):
        number, stem = match["number"], Path(match["target"]).stem
        if number in by_number and by_number[number][0] != stem:
            errors.append(f"Lab {number} links to {stem}, but Lab {number} is {by_number[number][0]}")
    return errors


def test_every_lab_title_carries_its_number_in_its_module():
    found = titles()
    missing = [p.stem for p in SOLUTIONS if p.stem not in found]
    assert not missing, f"labs whose title is not '# Lab N.M: ...' (or '# Capstone: ...'): {missing}"
    numbers = [number for number, _ in found.values() if number != "Capstone"]
    assert len(numbers) == len(set(numbers)), f"a number used twice: {sorted(numbers)}"
    for stem, (number, _) in found.items():
        if number != "Capstone":
            assert stem.startswith(f"m{number.split('.')[0]}_"), f"{stem} is numbered {number}, outside its module"
    for module in {n.split(".")[0] for n in numbers}:
        in_module = sorted(int(n.split(".")[1]) for n in numbers if n.split(".")[0] == module)
        assert in_module == list(range(1, len(in_module) + 1)), f"Module {module}'s labs are numbered {in_module}"


def test_the_labs_are_numbered_in_the_order_the_book_lists_them():
    found = titles()
    listed = re.findall(r"file: labs/(\w+)", (REPO / "_toc.yml").read_text())
    order = [found[stem][0] for stem in listed if found.get(stem, ("Capstone",))[0] != "Capstone"]
    assert order == sorted(order, key=lambda n: tuple(map(int, n.split(".")))), order


def test_every_lab_states_its_time_and_its_basis():
    for path in SOLUTIONS:
        assert TIME.search(first_cell(path)), \
            f"{path.name}: no '**Time.** About N minutes ... Basis: ...' in its first cell"


def test_a_reference_to_a_lab_of_another_title_is_caught():
    by_number = {"2.2": ("m2_wandb_offline", "Weights & Biases, offline"),
                 "2.4": ("m2_compare_reproduce", "Compare, reproduce, promote behind a gate, roll back")}
    assert reference_errors("the registry (Lab 2.2, *compare, reproduce, roll back*)", by_number)
    assert not reference_errors("the registry (Lab 2.4, *Compare, reproduce, promote behind a gate*)", by_number)
    assert reference_errors("[Lab 2.2](../../labs/m2_compare_reproduce.ipynb)", by_number)
    assert reference_errors("as Labs 2.2 and 2.9 do", by_number) == ["Lab 2.9 does not exist"]
    assert not reference_errors("[Lab 2.4: Compare, reproduce](../../labs/m2_compare_reproduce.ipynb)", by_number)


@pytest.mark.parametrize("path", sorted({*(REPO / "book").rglob("*.md"), *SOLUTIONS, *(REPO / "labs").glob("*.ipynb"),
                                         REPO / "README.md"}), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_lab_reference_points_at_the_lab_of_that_number(path):
    by_number = {number: (stem, name) for stem, (number, name) in titles().items()}
    text = path.read_text()
    if path.suffix == ".ipynb":
        text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
    errors = reference_errors(text, by_number)
    assert not errors, f"{path.relative_to(REPO)}: {errors}"


def test_the_course_total_in_the_introduction_adds_up():
    """book/intro.md's table: each module's reading is the sum of its chapters' stated reading, its labs the
    sum of its labs' stated times, and the totals are the sums of the rows."""
    intro = (REPO / "book" / "intro.md").read_text()
    rows = re.findall(r"^\| (Module (\d)|Capstone) \| (\d+) \| (\d+) \|", intro, re.MULTILINE)
    assert len(rows) == 7, rows
    lab_minutes = {p.stem: int(TIME.search(first_cell(p))["minutes"]) for p in SOLUTIONS}
    for name, module, reading, labs in rows:
        if module:
            chapters = sorted((REPO / "book" / f"m{module}").glob("*.md"))
            stated = [re.search(r"\*\*Time\.\*\* About (\d+) minutes of reading", c.read_text()) for c in chapters]
            assert all(stated), f"Module {module}: a chapter states no reading time"
            assert int(reading) == sum(int(m[1]) for m in stated), f"Module {module}'s reading"
            mine = [m for stem, m in lab_minutes.items() if stem.startswith(f"m{module}_") and stem != "m6_capstone"]
        else:
            mine = [lab_minutes["m6_capstone"]]
        assert int(labs) == sum(mine), f"{name}'s labs: the table says {labs}, the labs say {sum(mine)}"
    total = re.search(r"^\| \*\*total\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|", intro, re.MULTILINE)
    assert total and int(total[1]) == sum(int(r[2]) for r in rows) and int(total[2]) == sum(int(r[3]) for r in rows)
    hours = (int(total[1]) + int(total[2]) + 30) / 60
    stated = re.search(r"About \*\*(\d+) hours\*\* in all", intro)
    assert stated and abs(int(stated[1]) - hours) < 1, \
        f"the intro says {stated and stated[1]} hours, the sum is {hours:.1f}"

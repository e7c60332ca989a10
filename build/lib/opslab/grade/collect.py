"""Find what to grade: the lab's solution and the learners' submissions, read without trusting them."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat

MAX_BYTES = 50 * 2**20  # a submission larger than this is not read


class UnreadableSubmission(ValueError):
    """Not a notebook we can read; the message says why."""


def find_solution(lab: str, solutions: Path = Path("solutions")) -> Path:
    """``lab`` is a lab name (``m1_lifecycle``) or a path to its solution notebook."""
    path = Path(lab)
    if path.suffix == ".ipynb":
        if path.is_file():
            return path
        raise FileNotFoundError(f"{lab}: no such solution notebook")
    candidate = solutions / f"{lab}.ipynb"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in solutions.glob("*.ipynb"))) or "none"
    raise FileNotFoundError(f"no solution for lab {lab!r} in {solutions}/ (labs: {known})")


def find_submissions(folder: Path) -> dict[str, Path]:
    """learner id (the file name without .ipynb) -> path, sorted by learner id."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder of submissions")
    paths = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
    return {p.stem: p for p in paths}


def read_submission(path: Path):
    """The submission as a v4 notebook, or UnreadableSubmission saying what is wrong with the file."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableSubmission("the file is empty")
    if size > MAX_BYTES:
        raise UnreadableSubmission(
            f"the file is {size // 2**20} MB; submissions over {MAX_BYTES // 2**20} MB are not read")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(path.read_text(encoding="utf-8", errors="strict"), as_version=4)
    except Exception as err:
        raise UnreadableSubmission(f"not a Jupyter notebook ({type(err).__name__}: {str(err)[:200]})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise UnreadableSubmission("not a Jupyter notebook (no list of cells)")
    for number, cell in enumerate(cells):
        if not (isinstance(cell, dict) and isinstance(cell.get("source", ""), str)
                and isinstance(cell.get("metadata", {}), dict) and isinstance(cell.get("cell_type"), str)):
            raise UnreadableSubmission(f"not a Jupyter notebook (cell {number} is malformed)")
        cell.setdefault("metadata", nbformat.from_dict({}))
        cell.setdefault("source", "")
    if not isinstance(nb.get("metadata", {}), dict):
        nb["metadata"] = nbformat.from_dict({})
    return nb

"""Learner notebooks from solutions: ``labs/<name>.ipynb`` from ``solutions/<name>.ipynb`` (``opslab assign``)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from opslab.assign.learner import learner_version


def publish_solutions(config: Path) -> bool:
    """``opslab: {publish_solutions: true}`` in ``_config.yml``: labs/ (and so the book) carry each
    exercise's solution, folded. For self-learners; off by default, and off for a graded course."""
    if not config.exists():
        return False
    data = yaml.safe_load(config.read_text()) or {}
    return (data.get("opslab") or {}).get("publish_solutions") is True


def render(solution_path: Path, publish: bool = False) -> str:
    """The learner notebook of one solution, as the exact text written to labs/ (its install cell names the
    course's repository and commit by placeholders, which the book build fills in: opslab.book)."""
    solution = nbformat.read(solution_path, as_version=4)
    return nbformat.writes(learner_version(solution, solution_path.stem, publish)) + "\n"


def solution_notebooks(solutions: Path) -> list[Path]:
    return sorted(p for p in solutions.glob("*.ipynb") if not p.name.startswith("."))


def stale_labs(solutions: Path, labs: Path, config: Path) -> list[str]:
    """Names of the labs that `opslab assign` would write or delete (empty: labs/ is up to date)."""
    publish = publish_solutions(config)
    texts = {p.name: render(p, publish) for p in solution_notebooks(solutions)}
    present = {p.name for p in labs.glob("*.ipynb")} if labs.is_dir() else set()
    changed = [n for n, t in texts.items() if n not in present or (labs / n).read_text() != t]
    return sorted(changed + sorted(present - set(texts)))


def assign_all(solutions: Path, labs: Path, config: Path) -> list[Path]:
    """Write labs/<name>.ipynb for every solutions/<name>.ipynb; remove labs without a solution."""
    publish = publish_solutions(config)
    texts = {p.name: render(p, publish) for p in solution_notebooks(solutions)}  # all or nothing on errors
    labs.mkdir(parents=True, exist_ok=True)
    for stale in sorted(labs.glob("*.ipynb")):
        if stale.name not in texts:
            stale.unlink()
    written = []
    for name, text in texts.items():
        target = labs / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
        written.append(target)
    return written

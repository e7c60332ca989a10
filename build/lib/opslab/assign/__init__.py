"""``opslab assign``: regenerate every learner notebook in labs/ from its solution in solutions/."""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from opslab.assign.learner import learner_version
from opslab.assign.markers import MarkerError

DEFAULT_REPOSITORY = "https://github.com/opslab-course/mlops-deployment"


def repository_url(config: Path) -> str:
    """The book's ``repository.url`` from ``_config.yml`` (where Colab installs opslab from)."""
    if not config.exists():
        return DEFAULT_REPOSITORY
    data = yaml.safe_load(config.read_text()) or {}
    return str((data.get("repository") or {}).get("url") or DEFAULT_REPOSITORY).rstrip("/")


def render(solution_path: Path, url: str) -> str:
    """The learner notebook of one solution, as the exact text written to labs/."""
    solution = nbformat.read(solution_path, as_version=4)
    return nbformat.writes(learner_version(solution, solution_path.stem, url)) + "\n"


def solution_notebooks(solutions: Path) -> list[Path]:
    return sorted(p for p in solutions.glob("*.ipynb") if not p.name.startswith("."))


def stale_labs(solutions: Path, labs: Path, config: Path) -> list[str]:
    """Names of the labs that `opslab assign` would write or delete (empty: labs/ is up to date)."""
    url = repository_url(config)
    texts = {p.name: render(p, url) for p in solution_notebooks(solutions)}
    present = {p.name for p in labs.glob("*.ipynb")} if labs.is_dir() else set()
    changed = [n for n, t in texts.items() if n not in present or (labs / n).read_text() != t]
    return sorted(changed + sorted(present - set(texts)))


def assign_all(solutions: Path, labs: Path, config: Path) -> list[Path]:
    """Write labs/<name>.ipynb for every solutions/<name>.ipynb; remove labs without a solution."""
    url = repository_url(config)
    texts = {p.name: render(p, url) for p in solution_notebooks(solutions)}  # all or nothing on errors
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


def configure(parser) -> None:
    parser.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    parser.add_argument("--labs", default="labs", help="folder of learner notebooks (rewritten)")
    parser.add_argument("--config", default="_config.yml", help="book config with repository.url")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when labs/ is stale")


def command(args) -> int:
    solutions = Path(args.solutions)
    if not solutions.is_dir():
        print(f"opslab assign: {solutions} is not a folder of solution notebooks")
        return 2
    try:
        if args.check:
            stale = stale_labs(solutions, Path(args.labs), Path(args.config))
            print(f"stale: {', '.join(stale)}; run `opslab assign`" if stale else "labs/ is up to date")
            return 1 if stale else 0
        written = assign_all(solutions, Path(args.labs), Path(args.config))
    except (MarkerError, nbformat.ValidationError) as err:
        print(f"opslab assign: {err}")
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} learner notebooks in {args.labs}")
    return 0

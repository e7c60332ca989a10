"""``opslab space build``: write the Space's folder from the repository, pinned to one commit.

The folder is what a Hugging Face Docker Space holds, built from public pieces only: the repository's
``space/README.md`` (the Space's metadata) and ``space/Dockerfile``, plus what is written here:
``wheels/`` holds the ``opslab`` wheel of that commit (vendored: it is on no index), ``requirements.txt``
installs it with the Space's extra, and ``constraints.txt`` is the repository's ``requirements.txt`` (every
other version pinned). Where the course lives (the repository and Space names) comes from
:mod:`opslab.where`. It only writes files: no network, no push.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from opslab.space.vendor import WHEELS, VendorError, wheel_of_commit, write_requirements
from opslab.where import WhereError, derive

EXTRA = "space"  # opslab[space]: what `opslab train`, the lab server and the demo need (pyproject.toml)
COPIED = ("README.md", "Dockerfile")  # from the repository's space/ folder, unchanged
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


class SpaceBuildError(RuntimeError):
    """The folder cannot be built; the message says why and what to do."""


def resolve_commit(repo: Path, commit: str | None) -> str:
    """The full SHA of ``commit`` (default: HEAD) in the clone ``repo``."""
    if not (repo / ".git").exists():
        raise SpaceBuildError(f"{repo} is not a git clone: the Space carries the wheel of one of its commits")
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{commit or 'HEAD'}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SpaceBuildError(f"{commit!r} is not a commit of {repo}")
    return done.stdout.strip()


def pinned_lines(requirements: Path) -> list[str]:
    """The ``name==version`` lines of the repository's requirements.txt; anything looser is refused."""
    lines = [ln.strip() for ln in requirements.read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    loose = [ln for ln in lines if "==" not in ln or ln.startswith("-")]
    if loose:
        raise SpaceBuildError(f"{requirements} has lines that pin no version: {', '.join(loose[:5])}")
    if not lines:
        raise SpaceBuildError(f"{requirements} pins nothing")
    return lines


def build_space(repo: str | Path, out: str | Path, commit: str | None = None) -> dict[str, Path]:
    """Write the Space's folder ``out`` for ``repo`` at ``commit``; returns the written files by name."""
    repo, out = Path(repo).resolve(), Path(out).resolve()
    source = repo / "space"
    missing = [p for p in [repo / "_config.yml", repo / "requirements.txt", *(source / n for n in COPIED)]
               if not p.is_file()]
    if missing:
        raise SpaceBuildError(f"{repo} is not the course repository: no {', '.join(map(str, missing))}")
    if out == source:
        raise SpaceBuildError(f"{out} is the Space's source folder: write the Space somewhere else")
    sha = resolve_commit(repo, commit)
    try:
        named = f"{derive(repo).repository_url} at commit {sha}"
    except WhereError:  # a clone with no GitHub remote: the commit alone names the code
        named = f"commit {sha}"
    constraints = pinned_lines(repo / "requirements.txt")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in COPIED:
        written[name] = Path(shutil.copyfile(source / name, out / name))
    shutil.rmtree(out / WHEELS, ignore_errors=True)
    try:
        wheel = wheel_of_commit(repo, sha, out / WHEELS)
    except VendorError as err:
        raise SpaceBuildError(str(err)) from None
    written[f"{WHEELS}/{wheel.name}"] = wheel
    header = f"# Written by `opslab space build` from {named}: build the folder again, do not edit.\n"
    written.update(write_requirements(out, wheel, EXTRA, constraints, header))
    return written


__all__ = ["EXTRA", "build_space", "SpaceBuildError", "resolve_commit"]

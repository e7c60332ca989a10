"""``opslab space build``: write the Space's folder from the repository, pinned to one commit.

The folder is what a Hugging Face Docker Space holds: the repository's ``space/README.md`` (the Space's
metadata) and ``space/Dockerfile``, plus two files written here: ``requirements.txt`` installs the
course package from the repository's archive at that commit, and ``constraints.txt`` is the
repository's ``requirements.txt`` (every version pinned). It only writes files: no network, no push.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

EXTRA = "space"  # opslab[space]: what `opslab train`, the lab server and the demo need (pyproject.toml)
COPIED = ("README.md", "Dockerfile")  # from the repository's space/ folder, unchanged
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
GITHUB = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")


class SpaceBuildError(RuntimeError):
    """The folder cannot be built; the message says why and what to do."""


def repository_url(repo: Path) -> str:
    """``_config.yml``'s ``repository.url`` (the course's public repository on GitHub)."""
    config = yaml.safe_load((repo / "_config.yml").read_text())
    url = str((config.get("repository") or {}).get("url", "")).rstrip("/").removesuffix(".git")
    if not GITHUB.match(url):
        raise SpaceBuildError(f"_config.yml's repository.url is {url!r}, not https://github.com/OWNER/NAME")
    return url


def resolve_commit(repo: Path, commit: str | None) -> str:
    """The full SHA of ``commit`` (default: HEAD) in ``repo``; a full SHA is taken as given outside a clone."""
    is_clone = (repo / ".git").exists()
    if commit is not None and FULL_SHA.match(commit.lower()) and not is_clone:
        return commit.lower()
    if not is_clone:
        raise SpaceBuildError(f"{repo} is not a git clone: give the commit as a full 40-digit SHA")
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
    url, sha = repository_url(repo), resolve_commit(repo, commit)
    constraints = pinned_lines(repo / "requirements.txt")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in COPIED:
        written[name] = Path(shutil.copyfile(source / name, out / name))
    header = f"# Written by `opslab space build` from {url} at commit {sha}: build the folder again, do not edit.\n"
    written["requirements.txt"] = out / "requirements.txt"
    written["requirements.txt"].write_text(
        header
        + "# The course package (lab server, demo, `opslab train`) from that commit's archive (no git needed).\n"
        + f"opslab[{EXTRA}] @ {url}/archive/{sha}.tar.gz\n"
    )
    written["constraints.txt"] = out / "constraints.txt"
    written["constraints.txt"].write_text(
        header + "# Every version, as the repository's requirements.txt pins it at that commit.\n"
        + "\n".join(constraints) + "\n"
    )
    return written


__all__ = ["EXTRA", "build_space", "SpaceBuildError", "repository_url", "resolve_commit"]

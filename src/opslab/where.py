"""Where the course lives: its GitHub repository (``owner/name``), the commit, and its Hugging Face Space.

One home for the answer, derived, never typed in: from ``GITHUB_REPOSITORY``/``GITHUB_SHA`` when a
GitHub workflow builds (the book's, the Space's), else from the clone (``git remote get-url origin`` and
``git rev-parse HEAD``). ``_config.yml`` may override any of the three (``opslab: {where: {repository:,
commit:, space:}}``), for a fork that publishes under another name; it holds none by default. The Space
is ``<owner>/churn-demo`` unless ``OPSLAB_SPACE`` or the config names another.

The book build (:mod:`opslab.book`: launch buttons, repository and issue buttons, every lab's install
cell), ``opslab space build`` and the labs' install cells (``opslab assign``) all take it from here.
In an installed opslab (Colab, a Space), :func:`installed` reads where it was installed from (pip's
``direct_url.json``, PEP 610).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
# https://github.com/o/n(.git), git@github.com:o/n(.git), ssh://git@github.com/o/n(.git)
GITHUB_REMOTE = re.compile(r"github\.com[:/](?P<repo>[^/\s]+/[^/\s]+?)(?:\.git)?/?$")
SPACE_NAME = "churn-demo"  # the Space's name under the repository owner, unless configured


class WhereError(ValueError):
    """Where the course lives cannot be told (or a given value is malformed); the message says how to fix it."""


@dataclass(frozen=True)
class Where:
    repository: str  # owner/name on GitHub
    commit: str  # 40 hex digits
    space: str  # owner/name on the Hugging Face Hub

    @property
    def repository_url(self) -> str:
        return f"https://github.com/{self.repository}"

    @property
    def archive_url(self) -> str:
        return f"{self.repository_url}/archive/{self.commit}.tar.gz"

    @property
    def space_url(self) -> str:
        return f"https://huggingface.co/spaces/{self.space}"

    @property
    def space_app_url(self) -> str:
        """The Space app's own address: https://OWNER-NAME.hf.space (dots and underscores become dashes)."""
        return "https://" + re.sub(r"[._/]", "-", self.space).lower() + ".hf.space"

    def requirement(self, extras: list[str] | tuple[str, ...] = ()) -> str:
        """The pip requirement of the course package at this commit, with ``extras``."""
        extra = f"[{','.join(sorted(extras))}]" if extras else ""
        return f"opslab{extra} @ git+{self.repository_url}@{self.commit}"


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def overrides(config: Path) -> dict[str, str]:
    """``opslab: {where: {...}}`` of a book config, the keys that are set (none by default)."""
    if not config.is_file():
        return {}
    data = yaml.safe_load(config.read_text()) or {}
    given = ((data.get("opslab") or {}).get("where")) or {}
    return {k: str(v).strip() for k, v in given.items() if k in ("repository", "commit", "space") and v}


def repository_of_remote(url: str) -> str | None:
    """``owner/name`` of a GitHub remote URL, else None."""
    found = GITHUB_REMOTE.search(url.strip())
    return found["repo"] if found else None


def derive(root: str | os.PathLike = ".", env: dict | None = None, config: str | os.PathLike | None = None) -> Where:
    """Where the course at ``root`` lives: config overrides, else the workflow's environment, else the clone."""
    root = Path(root)
    env = os.environ if env is None else env
    given = overrides(Path(config) if config is not None else root / "_config.yml")
    repository = given.get("repository") or env.get("GITHUB_REPOSITORY") or None
    if repository is None:
        remote = _git(root, "remote", "get-url", "origin")
        repository = repository_of_remote(remote) if remote else None
    if not repository:
        raise WhereError(
            f"cannot tell the course's GitHub repository: {root} has no GitHub remote 'origin' and "
            "GITHUB_REPOSITORY is not set (set it, e.g. GITHUB_REPOSITORY=owner/name, or add the remote)")
    commit = given.get("commit") or env.get("GITHUB_SHA") or _git(root, "rev-parse", "HEAD")
    if not commit:
        raise WhereError(f"cannot tell the commit: {root} is not a git clone and GITHUB_SHA is not set")
    space = given.get("space") or env.get("OPSLAB_SPACE") or f"{repository.split('/')[0]}/{SPACE_NAME}"
    return checked(Where(repository, commit.lower(), space))


def checked(where: Where) -> Where:
    if not REPOSITORY.match(where.repository):
        raise WhereError(f"the repository is {where.repository!r}, not OWNER/NAME")
    if not COMMIT.match(where.commit):
        raise WhereError(f"the commit is {where.commit!r}, not a full 40-digit SHA")
    if not REPOSITORY.match(where.space):
        raise WhereError(f"the Space is {where.space!r}, not OWNER/NAME")
    return where


def installed() -> Where | None:
    """Where the installed opslab came from, when pip installed it from GitHub at a commit (else None)."""
    from importlib import metadata

    try:
        text = metadata.distribution("opslab").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    info = json.loads(text)
    commit = (info.get("vcs_info") or {}).get("commit_id")
    repository = repository_of_remote(info.get("url", "").removeprefix("git+"))
    if not (commit and repository and COMMIT.match(commit)):
        return None
    return Where(repository, commit, os.environ.get("OPSLAB_SPACE") or f"{repository.split('/')[0]}/{SPACE_NAME}")


__all__ = ["Where", "WhereError", "checked", "derive", "installed", "overrides", "repository_of_remote"]

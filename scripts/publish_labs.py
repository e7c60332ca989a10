#!/usr/bin/env python3
"""Push the built book's labs, install cells pinned to the commit, as the tag ``colab-<commit>``.

Colab opens a notebook only from GitHub, and the committed ``labs/`` cannot name the commit that holds
them (their install cells carry placeholders, which the book build fills in: ``opslab.book``). So after the
build, the book's workflow stores the filled learner notebooks (the pages' ``.ipynb`` downloads,
``_build/html/_sources/labs/*.ipynb``) as ``labs/*.ipynb`` in a commit of their own, with no parent, and
tags it ``colab-<commit>``; every lab page's Colab button opens the lab at that tag.

    python scripts/publish_labs.py _build/html [--commit SHA] [--remote origin] [--no-push]

Git plumbing only: a private index, the working tree and branches untouched. Re-running for the same
commit makes the same tag (fixed author and date), so a re-run of the workflow pushes nothing new.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from opslab.book import colab_ref  # the tag the Colab buttons open

IDENTITY = {"GIT_AUTHOR_NAME": "opslab book", "GIT_AUTHOR_EMAIL": "book@opslab.invalid",
            "GIT_COMMITTER_NAME": "opslab book", "GIT_COMMITTER_EMAIL": "book@opslab.invalid",
            "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}


def git(*args: str, env: dict | None = None, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], input=data, capture_output=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"publish_labs: git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode().strip()


def pinned_labs(html: Path, commit: str) -> dict[str, bytes]:
    labs = sorted((html / "_sources" / "labs").glob("*.ipynb"))
    if not labs:
        raise SystemExit(f"publish_labs: no lab downloads under {html}/_sources/labs: build the book first")
    texts = {p.name: p.read_bytes() for p in labs}
    unpinned = [name for name, text in texts.items() if commit.encode() not in text or b"__COMMIT__" in text]
    if unpinned:
        raise SystemExit(f"publish_labs: {', '.join(unpinned)} do not install commit {commit}: was the book built "
                         "at this commit (GITHUB_SHA)?")
    return texts


def commit_labs(texts: dict[str, bytes], commit: str) -> str:
    """A parentless commit holding labs/<name> for each text; returns its id."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git("read-tree", "--empty", env=env)
        for name, text in texts.items():
            blob = git("hash-object", "-w", "--stdin", data=text)
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},labs/{name}", env=env)
        tree = git("write-tree", env=env)
    message = f"The labs of {commit}, install cells pinned to it (scripts/publish_labs.py)"
    return git("commit-tree", tree, "-m", message, env=IDENTITY)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the built book (_build/html)")
    parser.add_argument("--commit", default=os.environ.get("GITHUB_SHA"), help="default: GITHUB_SHA, else HEAD")
    parser.add_argument("--remote", default="origin")
    parser.add_argument("--no-push", action="store_true", help="make the tag here only")
    args = parser.parse_args(argv)
    commit = (args.commit or git("rev-parse", "HEAD")).lower()
    tag = colab_ref(commit)
    texts = pinned_labs(args.html, commit)
    labs = commit_labs(texts, commit)
    git("tag", "--force", tag, labs)
    if not args.no_push:
        git("push", "--force", args.remote, f"refs/tags/{tag}")
    print(f"publish_labs: {len(texts)} labs at tag {tag} ({labs[:12]})"
          + ("" if args.no_push else f", pushed to {args.remote}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""scripts/publish_labs.py: the built labs, install cells pinned, pushed as the tag the Colab buttons open."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / "scripts" / "publish_labs.py"


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def clone_with_origin(tmp_path):
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("init", "-q", str(work), cwd=tmp_path)
    (work / "README").write_text("course\n")
    git("add", "README", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c", cwd=work)
    git("remote", "add", "origin", str(origin), cwd=work)
    return origin, work, git("rev-parse", "HEAD", cwd=work)


def built(tmp_path, texts: dict[str, str]):
    labs = tmp_path / "html" / "_sources" / "labs"
    labs.mkdir(parents=True)
    for name, text in texts.items():
        (labs / name).write_text(text)
    return tmp_path / "html"


def run(*args, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True)


def test_the_pinned_labs_are_pushed_as_a_parentless_tag_and_the_clone_is_untouched(tmp_path):
    origin, work, sha = clone_with_origin(tmp_path)
    texts = {"m1_a.ipynb": f'{{"pin": "git+https://github.com/o/n@{sha}"}}\n', "m2_b.ipynb": f'{{"x": "{sha}"}}\n'}
    html = built(tmp_path, texts)
    done = run(html, "--commit", sha, cwd=work)
    assert done.returncode == 0, done.stderr
    tag = f"colab-{sha}"
    assert git("ls-tree", "-r", "--name-only", tag, cwd=origin).split() == ["labs/m1_a.ipynb", "labs/m2_b.ipynb"]
    for name, text in texts.items():
        assert git("show", f"{tag}:labs/{name}", cwd=origin) == text.strip()
    assert git("rev-list", "--parents", "-n", "1", tag, cwd=origin).split()[1:] == [], "no parent: labs only"
    assert git("status", "--porcelain", cwd=work) == "" and git("rev-parse", "HEAD", cwd=work) == sha
    first = git("rev-parse", tag, cwd=origin)
    assert run(html, "--commit", sha, cwd=work).returncode == 0
    assert git("rev-parse", tag, cwd=origin) == first, "the same labs make the same tag"


def test_labs_not_pinned_to_the_commit_are_refused(tmp_path):
    _, work, sha = clone_with_origin(tmp_path)
    html = built(tmp_path, {"m1_a.ipynb": '{"pin": "git+https://github.com/__REPOSITORY__@__COMMIT__"}\n'})
    done = run(html, "--commit", sha, "--no-push", cwd=work)
    assert done.returncode != 0 and "do not install commit" in done.stderr
    assert run(tmp_path / "nothing", "--commit", sha, cwd=work).returncode != 0

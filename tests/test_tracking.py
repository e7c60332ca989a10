"""Run-context tags: data fingerprints, git commits, package versions."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

from opslab import make_customers
from opslab.tracking import data_fingerprint, git_commit, package_versions, run_context


def test_fingerprint_is_stable_and_ignores_the_index():
    df = make_customers(n=200, seed=0)
    assert data_fingerprint(df) == data_fingerprint(make_customers(n=200, seed=0))
    assert data_fingerprint(df) == data_fingerprint(df.set_axis(range(1000, 1200)))
    assert len(data_fingerprint(df)) == 64


@pytest.mark.parametrize("change", ["cell", "column name", "dtype", "row order", "other seed"])
def test_fingerprint_changes_with_the_content(change):
    df = make_customers(n=200, seed=0)
    if change == "cell":
        other = df.copy()
        other.loc[5, "age"] += 1
    elif change == "column name":
        other = df.rename(columns={"age": "age_years"})
    elif change == "dtype":
        other = df.astype({"age": float})
    elif change == "row order":
        other = df.iloc[::-1]
    else:
        other = make_customers(n=200, seed=1)
    assert data_fingerprint(other) != data_fingerprint(df)


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def test_git_commit_reads_the_checkout_and_marks_dirty_trees(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-qm", "one")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert git_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("2")
    assert git_commit(tmp_path) == head + "-dirty"


def test_git_commit_is_none_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) is None


def test_run_context_holds_data_hash_and_versions(tmp_path):
    df = pd.DataFrame({"x": [1, 2, 3]})
    tags = run_context(df, packages=["pandas", "surely-not-installed-pkg"], repo=tmp_path)
    assert tags["data.sha256"] == data_fingerprint(df)
    assert tags["data.rows"] == "3"
    assert tags["version.pandas"] == pd.__version__
    assert tags["version.surely-not-installed-pkg"] == "not installed"
    assert "git.commit" not in tags  # tmp_path is no checkout
    assert all(isinstance(v, str) for v in tags.values())
    assert package_versions(["pandas"]) == {"pandas": pd.__version__}

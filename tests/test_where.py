"""Where the course lives (opslab.where): derived from a workflow's environment or the clone, overridden only
by _config.yml, and refused with a sentence when nothing tells."""

from __future__ import annotations

import subprocess

import pytest

from opslab.where import Where, WhereError, derive, installed, repository_of_remote

SHA = "0123456789abcdef" * 2 + "01234567"


def clone(path, remote: str | None):
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "f").write_text("x")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    if remote:
        subprocess.run([*git, "remote", "add", "origin", remote], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def test_a_workflow_says_where_through_its_environment(tmp_path):
    where = derive(tmp_path, env={"GITHUB_REPOSITORY": "example-org/example-course", "GITHUB_SHA": SHA.upper()})
    assert where == Where("example-org/example-course", SHA, "example-org/churn-demo")
    assert where.requirement(["serve", "demo"]) == (
        f"opslab[demo,serve] @ git+https://github.com/example-org/example-course@{SHA}")
    assert where.space_url == "https://huggingface.co/spaces/example-org/churn-demo"
    assert where.space_app_url == "https://example-org-churn-demo.hf.space"


@pytest.mark.parametrize("remote", ["git@github.com:someone/course.git", "https://github.com/someone/course",
                                    "https://github.com/someone/course.git", "ssh://git@github.com/someone/course.git"])
def test_a_clone_says_where_through_its_remote_and_head(tmp_path, remote):
    head = clone(tmp_path, remote)
    assert derive(tmp_path, env={}) == Where("someone/course", head, "someone/churn-demo")


def test_the_config_overrides_and_nothing_else_does(tmp_path):
    clone(tmp_path, "https://github.com/someone/course")
    (tmp_path / "_config.yml").write_text(
        f"opslab:\n  where:\n    repository: fork/renamed\n    commit: {SHA}\n    space: hub-user/demo\n")
    env = {"GITHUB_REPOSITORY": "example-org/example-course", "GITHUB_SHA": "f" * 40, "OPSLAB_SPACE": "x/y"}
    assert derive(tmp_path, env=env) == Where("fork/renamed", SHA, "hub-user/demo")


def test_nothing_to_tell_is_one_sentence(tmp_path):
    clone(tmp_path, None)
    with pytest.raises(WhereError, match="no GitHub remote 'origin' and GITHUB_REPOSITORY is not set"):
        derive(tmp_path, env={})
    with pytest.raises(WhereError, match="not a git clone and GITHUB_SHA is not set"):
        derive(tmp_path / "nowhere", env={"GITHUB_REPOSITORY": "a/b"})
    with pytest.raises(WhereError, match="not a full 40-digit SHA"):
        derive(tmp_path, env={"GITHUB_REPOSITORY": "a/b", "GITHUB_SHA": "abc"})
    with pytest.raises(WhereError, match="not OWNER/NAME"):
        derive(tmp_path, env={"GITHUB_REPOSITORY": "just-a-name", "GITHUB_SHA": SHA})


def test_remotes_elsewhere_name_no_repository():
    assert repository_of_remote("https://gitlab.com/a/b.git") is None
    assert repository_of_remote("/srv/git/course.git") is None


def test_an_install_from_a_checkout_names_no_commit():
    """This environment's opslab is an editable install of the checkout: not from GitHub at a commit."""
    assert installed() is None


def test_a_project_copied_from_an_opslab_installed_from_github_installs_that_commit_in_its_ci(tmp_path, monkeypatch):
    import opslab.projects as projects
    from opslab.where import Where

    monkeypatch.setattr(projects, "installed", lambda: Where("someone/course", "ab" * 20, "someone/churn-demo"))
    project = projects.copy_project("churn_ci", tmp_path / "p")
    workflow = (project / ".github" / "workflows" / "train.yml").read_text()
    assert f'source="git+https://github.com/someone/course@{"ab" * 20}"' in workflow
    assert projects.SOURCE_PLACEHOLDER not in workflow
    monkeypatch.setattr(projects, "installed", lambda: None)
    workflow = (projects.copy_project("churn_ci", tmp_path / "q") / ".github" / "workflows" / "train.yml").read_text()
    assert f'source="{projects.SOURCE_PLACEHOLDER}"' in workflow and "opslab's source is unknown" in workflow

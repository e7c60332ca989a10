"""Shared by tests/test_deploy_*.py and tests/test_space.py: read a Dockerfile's instructions, the deploy/ folder's
paths, and what an extra of opslab installs."""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

from conftest import REPO
from opslab.space import files

DEPLOY = REPO / "deploy"
DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))


def venv_tool(name: str) -> str:
    """A command-line tool installed beside this Python (the course venv's bin), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -r requirements.txt"
    return found


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as ``(KEYWORD, arguments)``, continuation lines joined, comments dropped."""
    return files.instructions(dockerfile.read_text())


def exec_form(dockerfile: Path, keyword: str) -> list[str]:
    """The last ``keyword`` (CMD, or HEALTHCHECK's CMD) in exec (JSON) form, as the container runs it."""
    try:
        return files.exec_form(dockerfile.read_text(), keyword)
    except ValueError as err:
        raise AssertionError(f"{dockerfile.name}: {err}") from None


def on_address(command: list[str], host: str, port: int) -> list[str]:
    """``command`` with the values of its ``--host`` and ``--port`` options replaced (both must be there)."""
    command = list(command)
    for option, value in (("--host", host), ("--port", str(port))):
        assert option in command, f"{command} has no {option}"
        command[command.index(option) + 1] = value
    return command


def requires(name: str) -> list[str]:
    """A distribution's requirements; opslab's from this checkout's pyproject.toml (the venv may hold another's)."""
    from importlib.metadata import distribution

    if name != "opslab":
        return distribution(name).requires or []
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + [f'{r}; extra == "{extra}"'
                                      for extra, reqs in project["optional-dependencies"].items() for r in reqs]


def closure(requirement: str) -> set[str]:
    """The distributions ``requirement`` (e.g. ``opslab[demo]``) installs, as pip would, by canonical name."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found, todo = set(), [(Requirement(requirement), "")]
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        for wanted in sorted(req.extras) or [""]:
            if (name, wanted) in found:
                continue
            found.add((name, wanted))
            todo += [(Requirement(r), wanted) for r in requires(name)]
    return {name for name, _ in found}


# The start of a `python -c` script that makes the distributions named in its first argument (a JSON
# list) unimportable, as they are in an image that does not install them; the caller appends the rest.
WITHOUT_DISTRIBUTIONS = """
import json, sys
blocked = set(json.loads(sys.argv[1]))

class Absent:  # as in the image: a distribution that is not installed cannot be imported
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""

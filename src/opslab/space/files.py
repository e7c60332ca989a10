"""Read a Docker Space's two files as the Hub and Docker read them: the README's front matter (the
Space's metadata) and the Dockerfile's instructions. The course's tests of its own Space and the
capstone's checks of a learner's Space share them."""

from __future__ import annotations

import json

import yaml


def front_matter(readme: str) -> dict:
    """The YAML block between the first two ``---`` lines of a Space's README.md, as a dict."""
    lines = readme.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("a Space's README.md starts with a line '---' and its metadata in YAML")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise ValueError("the README's metadata never ends: close it with a line '---'") from None
    meta = yaml.safe_load("\n".join(lines[1:end]))
    if not isinstance(meta, dict):
        raise ValueError("the README's metadata is not a YAML mapping of keys to values")
    return meta


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as ``(KEYWORD, arguments)``, continuation lines joined, comments dropped."""
    found, pending = [], ""
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        found.append((keyword.upper(), " ".join(rest.split())))
        pending = ""
    if pending:
        raise ValueError("the Dockerfile ends inside a continued line (a trailing backslash)")
    return found


def exec_form(dockerfile: str, keyword: str) -> list[str]:
    """The last ``keyword`` (CMD, ENTRYPOINT, or HEALTHCHECK's CMD) in exec form (a JSON list), as the
    container runs it; ValueError when there is none or it is in shell form."""
    matching = [rest for key, rest in instructions(dockerfile) if key == keyword]
    if not matching:
        raise ValueError(f"the Dockerfile has no {keyword}")
    rest = matching[-1]
    if keyword == "HEALTHCHECK":
        _, sep, rest = rest.partition("CMD ")
        if not sep:
            raise ValueError("the Dockerfile's HEALTHCHECK has no CMD")
    try:
        command = json.loads(rest)
    except ValueError:
        command = None
    if not (isinstance(command, list) and command and all(isinstance(a, str) for a in command)):
        raise ValueError(f"{keyword} is not in exec form (a JSON list of strings): {rest}")
    return command


__all__ = ["exec_form", "front_matter", "instructions"]

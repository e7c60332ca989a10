"""Every GitHub Actions workflow in the repository is valid, checked offline against the vendored schema.

A workflow GitHub cannot parse never runs and nobody is told: test.yml once had an unquoted ``: `` in a
step name. Workflows are found wherever they live (the repository's own, and templates shipped as
package data under src/), so a new one is checked without anyone listing it here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO

# Never walked: environments, build output, caches (a package there may ship workflows of its own).
SKIPPED = {".git", ".venv", "_build", "node_modules", ".pytest_cache", ".ruff_cache", "__pycache__", "build", "dist"}
# A proxy on a closed port: if check-jsonschema tried to download anything, it would fail loudly.
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": ""}


def workflow_files(root: Path) -> list[Path]:
    """Every *.yml / *.yaml directly in a ``.github/workflows`` folder anywhere under ``root``."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith(".venv"))
        here = Path(folder)
        if here.name == "workflows" and here.parent.name == ".github":
            found += [here / f for f in sorted(files) if f.endswith((".yml", ".yaml"))]
    return found


def check_workflows(paths: list[Path]) -> subprocess.CompletedProcess:
    # the console script sits next to the interpreter (the course venv); its schema is the vendored copy
    command = [str(Path(sys.executable).with_name("check-jsonschema")), "--builtin-schema", "vendor.github-workflows"]
    return subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **NO_NETWORK})


def test_the_walk_finds_workflows_in_the_repository_and_in_package_data(tmp_path):
    template = tmp_path / "src" / "pkg" / "templates" / "project" / ".github" / "workflows"
    template.mkdir(parents=True)
    (template / "train.yaml").write_text("x")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "test.yml").write_text("x")
    (tmp_path / ".venv" / "lib" / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / ".github" / "workflows" / "theirs.yml").write_text("x")
    assert workflow_files(tmp_path) == [tmp_path / ".github/workflows/test.yml", template / "train.yaml"]
    names = {p.relative_to(REPO).as_posix() for p in workflow_files(REPO)}
    assert {".github/workflows/test.yml", ".github/workflows/book.yml"} <= names, names


def test_every_workflow_is_valid():
    paths = workflow_files(REPO)
    result = check_workflows(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout, result.stdout


def test_the_check_rejects_what_github_would_not_run(tmp_path):
    broken = tmp_path / "broken.yml"  # the bug test.yml had: a plain scalar holding ": "
    broken.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - name: make test (set-up: then tests)\n        run: make test\n")
    misspelt = tmp_path / "misspelt.yml"  # parses, but is no workflow: "step" is not a job key
    misspelt.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    step:\n      - run: make test\n")
    for path, reason in ((broken, "Failed to parse"), (misspelt, "validation error")):
        result = check_workflows([path])
        assert result.returncode != 0 and reason in result.stdout + result.stderr, result.stdout + result.stderr


# The oldest major of each action that runs on Node 24 and is the newest major as of December 2026 (each
# checked against the action's own action.yml, `runs.using: node24`): Node 20 left GitHub's runners in
# September 2026, so an older major no longer runs. Dependabot (.github/dependabot.yml) moves them on.
NEWEST_MAJORS = {"actions/checkout": 7, "actions/setup-python": 7, "actions/cache": 5, "actions/upload-artifact": 7,
                 "actions/upload-pages-artifact": 5, "actions/deploy-pages": 5}
# Where a workflow (or text that writes one, such as a lab or the capstone brief) can name an action.
TEXT_SUFFIXES = (".yml", ".yaml", ".md", ".ipynb", ".py", ".txt")
ACTION_REF = re.compile(r"(actions/[\w.-]+)@v(\d+)\b")


def action_majors(root: Path) -> list[tuple[str, str, int]]:
    """(file, action, major) for every ``actions/<name>@v<major>`` in the repository's text files."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith(".venv"))
        for name in sorted(files):
            path = Path(folder) / name
            if name.endswith(TEXT_SUFFIXES) and path.resolve() != Path(__file__).resolve():
                for action, major in ACTION_REF.findall(path.read_text(errors="replace")):
                    found.append((path.relative_to(root).as_posix(), action, int(major)))
    return found


def test_no_workflow_template_or_lab_names_an_action_major_older_than_the_newest(tmp_path):
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "lab.ipynb").write_text('{"source": ["      - uses: actions/checkout@v4\\n"]}')
    assert action_majors(tmp_path) == [("labs/lab.ipynb", "actions/checkout", 4)]
    found = action_majors(REPO)
    places = {file for file, _, _ in found}
    assert {".github/workflows/test.yml", "src/opslab/projects/churn_ci/.github/workflows/train.yml",
            "solutions/m4_cicd.ipynb", "labs/m4_cicd.ipynb"} <= places, places
    old = [(file, f"{action}@v{major}") for file, action, major in found
           if action in NEWEST_MAJORS and major < NEWEST_MAJORS[action]]
    assert not old, f"older majors (need {NEWEST_MAJORS}): {old}"


def test_dependabot_config_is_valid_and_covers_every_workflow_folder():
    config = REPO / ".github" / "dependabot.yml"
    command = [str(Path(sys.executable).with_name("check-jsonschema")), "--builtin-schema", "vendor.dependabot"]
    result = subprocess.run([*command, str(config)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **NO_NETWORK})
    assert result.returncode == 0 and "ok -- validation done" in result.stdout, result.stdout + result.stderr
    updates = {u["package-ecosystem"]: u for u in yaml.safe_load(config.read_text())["updates"]}
    assert {"github-actions", "pip"} <= set(updates)
    actions = updates["github-actions"]
    folders = set(actions.get("directories", [actions.get("directory")]))
    for workflow in workflow_files(REPO):
        home = "/" + workflow.parent.parent.parent.relative_to(REPO).as_posix()
        assert home.replace("/.", "/") in folders, f"{workflow} is in no github-actions directory of {folders}"

"""Binder's recipe, as Binder makes it: jupyter-repo2docker (pinned in requirements.txt) with --no-build
writes the image's Dockerfile from this repository, offline (in a network namespace with no network).
It must build the conda environment from environment.yml (which installs the course's pins), install
apt.txt's Debian packages (the labs' system tools), and run postBuild (which installs opslab)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO


def listed(path: Path) -> list[str]:
    return sorted({line.split("#")[0].strip() for line in path.read_text().splitlines()} - {""})


@pytest.fixture(scope="module")
def recipe() -> str:
    unshare = shutil.which("unshare")
    assert unshare, "`unshare` (util-linux) is missing: scripts/setup.sh installs it"
    offline = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--net", "--map-root-user"]
    repo2docker = Path(sys.executable).with_name("repo2docker")
    done = subprocess.run([*offline, str(repo2docker), "--no-build", "--debug", str(REPO)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "FROM " in output, output[-3000:]
    return output[output.index("FROM "):]


def test_the_recipe_builds_the_conda_environment_from_environment_yml(recipe):
    assert re.search(r'env update -p \$\{NB_PYTHON_PREFIX\} --file "environment.yml"', recipe)
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pip == ["-r requirements.txt"], "Binder installs the course's pins, as everyone else does"


def test_the_recipe_installs_every_apt_txt_package(recipe):
    installs = re.findall(r"apt-get install --yes --no-install-recommends ([^&\\]+)", recipe)
    assert [sorted(line.split()) for line in installs] == [listed(REPO / "apt.txt")]


def test_the_recipe_runs_post_build_after_the_environment_and_post_build_installs_opslab(recipe):
    assert "RUN ./postBuild" in recipe
    assert recipe.index('--file "environment.yml"') < recipe.index("RUN ./postBuild")
    assert recipe.index("apt-get install --yes") < recipe.index('--file "environment.yml"')
    steps = [line for line in (REPO / "postBuild").read_text().splitlines() if line and not line.startswith("#")]
    assert "pip install --no-deps -e ." in steps, "the environment has every pin; postBuild adds the course package"

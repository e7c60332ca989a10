"""A lab opened with only the notebook, as a learner gets it from the site, runs: no clone, no course venv.

Each lab here is taken as the site serves it (its ``.ipynb`` download: labs/ with the install cell pinned to
this commit, as tests/test_book.py proves the downloads are), put alone in an empty folder with an empty
HOME, and run by nbclient as the book runs it (nbconvert --execute), offline (a network namespace with only
loopback), in a fresh virtual environment that has every other dependency but not opslab. Its own install
cell installs opslab: from this clone over ``git+file://`` at this commit, standing in for GitHub (the same
pip path: a git checkout of the commit, built), with only the lab's extras. The lab must then run as the
book requires (errors only in cells tagged raises-exception), and opslab must be the one its cell installed.
The repository is not hidden from the kernel here (the grading tests run every lab from a non-editable
install in a sandbox that hides it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO
from opslab.assign.learner import fill_placeholders
from opslab.where import Where
from venv_support import fresh_venv

pytestmark = pytest.mark.notebooks

LABS = ["m1_lifecycle", "m5_prometheus"]  # no extras and no tools; extras and the Prometheus tools
STAND_IN = "example-org/example-course"


def head() -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def as_downloaded(lab: str, commit: str) -> str:
    """The lab's .ipynb download of a site built at ``commit``, its source moved from GitHub to this clone."""
    text = fill_placeholders((REPO / "labs" / f"{lab}.ipynb").read_text(), Where(STAND_IN, commit, "x/y"))
    github = f"git+https://github.com/{STAND_IN}@{commit}"
    assert github in text, "the install cell does not pin the commit"
    return text.replace(github, f"git+file://{REPO}@{commit}")


def offline(command: list[str]) -> list[str]:
    unshare = shutil.which("unshare")
    assert unshare, "`unshare` (util-linux) is missing: scripts/setup.sh installs it"
    root = [] if os.geteuid() == 0 else ["--map-root-user"]
    return [unshare, "--net", *root, "--", "bash", "-c", 'ip link set lo up && exec "$@"', "offline", *command]


@pytest.mark.parametrize("lab", LABS)
def test_the_lab_runs_from_its_download_alone_installing_opslab_itself(lab, tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("not a git clone: the install cell installs one of its commits")
    commit = head()
    if subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--", "labs", "src", "pyproject.toml"]
                      ).returncode != 0:
        pytest.skip("labs/, src/ or pyproject.toml differ from HEAD: the lab would install another opslab")
    python = fresh_venv(tmp_path / "env")
    folder, home = tmp_path / "learner", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    (folder / f"{lab}.ipynb").write_text(as_downloaded(lab, commit))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OPSLAB_", "MLFLOW_", "PIP_", "JUPYTER", "VIRTUAL_ENV", "PYTHON"))}
    env.update(HOME=str(home), PATH=f"{python.parent}:{env['PATH']}", PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0",  # pip's inverted switch: build opslab with the setuptools present
               PIP_DISABLE_PIP_VERSION_CHECK="1", GIT_CONFIG_GLOBAL=str(home / ".gitconfig"))
    (home / ".gitconfig").write_text(f"[safe]\n\tdirectory = {REPO}\n\tdirectory = {REPO}/.git\n")
    # nbclient, as the book executes a lab: an error stops the run unless its cell is tagged raises-exception
    done = subprocess.run(offline([str(python), "-m", "nbconvert", "--to", "notebook", "--execute",
                                   "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.kernel_name=python3",
                                   "--output", "ran.ipynb", f"{lab}.ipynb"]),
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    ran = json.loads((folder / "ran.ipynb").read_text())
    errors = [c for c in ran["cells"] if c["cell_type"] == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert all("raises-exception" in c["metadata"].get("tags", []) for c in errors), "an untagged cell failed"
    probe = ("import opslab; from importlib import metadata; print(opslab.__file__); "
             "print(metadata.distribution('opslab').read_text('direct_url.json'))")
    origin = subprocess.run([str(python), "-c", probe], env=env, capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert origin[0].startswith(str(python.parent.parent)), f"opslab runs from {origin[0]}, not what the cell installed"
    assert json.loads(origin[1])["vcs_info"]["commit_id"] == commit, "the cell installed another commit"

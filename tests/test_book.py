"""The book builds with warnings as errors, executing every lab, and renders what learners need."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(REPO), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return out / "_build" / "html"


def toc_files():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]


def test_every_toc_entry_becomes_a_page(built_book):
    for entry in toc_files():
        assert (built_book / f"{entry}.html").exists(), entry


def test_lab_pages_carry_binder_and_colab_buttons(built_book):
    labs = [e for e in toc_files() if e.startswith("labs/")]
    assert labs, "the book lists no labs"
    for entry in labs:
        page = (built_book / f"{entry}.html").read_text()
        assert "mybinder.org" in page and "colab.research.google.com" in page, entry


def test_lab_pages_hide_the_colab_install_cell_and_show_executed_output(built_book):
    for entry in [e for e in toc_files() if e.startswith("labs/")]:
        page = (built_book / f"{entry}.html").read_text()
        assert "pip install" not in page, f"{entry} shows the Colab install cell"
        assert "cell_output" in page, f"{entry} has no executed output"

"""The book builds with warnings as errors and renders what learners need, and its pages load offline:
served locally and opened in a real Chromium, they ask no other host.

The published book (and ``make serve``) executes every lab: ``_config.yml`` says so, checked below. This
build executes only ``EXECUTED_HERE`` (proving the execution path: kernels, the ``raises-exception``
stubs, outputs on the page); every other lab's learner version is executed once already, by the grading
tests (tests/test_grade_labs*.py), under the same rule the book applies: an error is allowed only in a
cell tagged ``raises-exception``. Executing all of them here again cost six minutes of the suite."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from browser import RequestLog, browser  # noqa: F401  (fixture)
from conftest import REPO
from opslab.background import BackgroundServer, free_port

pytestmark = pytest.mark.notebooks


EXECUTED_HERE = ["labs/m1_lifecycle"]


def toc_labs() -> list[str]:
    return [entry for entry in toc_files() if entry.startswith("labs/")]


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config["execute"]["exclude_patterns"] = [f"{lab}.ipynb" for lab in toc_labs() if lab not in EXECUTED_HERE]
    (out / "_config.yml").write_text(yaml.safe_dump(config))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(REPO), "--config", str(out / "_config.yml"), "--path-output", str(out),
         "-W", "-n", "--keep-going"],
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


def test_the_published_book_executes_every_lab_and_fails_on_an_unexpected_error():
    execute = yaml.safe_load((REPO / "_config.yml").read_text())["execute"]
    assert execute["execute_notebooks"] in ("cache", "force") and not execute.get("exclude_patterns")
    assert execute["allow_errors"] is False


def test_lab_pages_hide_the_colab_install_cell_and_show_executed_output(built_book):
    for entry in toc_labs():
        page = (built_book / f"{entry}.html").read_text()
        assert '%pip install -q "opslab[all]' not in page, f"{entry} shows the Colab install cell"
    for entry in EXECUTED_HERE:
        page = (built_book / f"{entry}.html").read_text()
        assert page.count('class="cell_output') >= 3, f"{entry} has no executed output"


@pytest.fixture(scope="module")
def book_url(built_book):
    """The built book served over HTTP on this machine, as a learner would open it."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(built_book)]
    with BackgroundServer(command, f"http://127.0.0.1:{port}/index.html", name="book") as server:
        yield server.ready_url.rsplit("/", 1)[0]


def foreign_requests(browser, base_url: str, pages: list[str]) -> dict[str, list[str]]:  # noqa: F811
    """For each page (a path under ``base_url``): the URLs on other hosts it asked for while loading."""
    context = browser.new_context()
    try:
        page = context.new_page()
        found = {}
        for path in pages:
            with RequestLog(page) as requests:
                response = page.goto(f"{base_url}/{path}", wait_until="networkidle")
            assert response is not None and response.ok, f"{path}: {response and response.status}"
            if requests.foreign():
                found[path] = requests.foreign()
        return found
    finally:
        context.close()


@pytest.mark.browser
def test_every_page_loads_without_other_hosts(browser, book_url):  # noqa: F811
    pages = ["index.html", "search.html", "genindex.html"] + [f"{entry}.html" for entry in toc_files()]
    assert foreign_requests(browser, book_url, pages) == {}


def test_the_book_serves_mathjax_itself(built_book):
    """dollarmath is on, so any page may hold math: MathJax must come from the book, not a CDN."""
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (built_book / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()

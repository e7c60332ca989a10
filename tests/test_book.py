"""The book builds with warnings as errors and renders what learners need, and its pages load offline:
served locally and opened in a real Chromium, they ask no other host.

The published book (and ``make serve``) executes every lab: ``_config.yml`` says so, checked below. This
build executes only ``EXECUTED_HERE`` (proving the execution path: kernels, the ``raises-exception``
stubs, outputs on the page); every other lab's learner version is executed once already, by the grading
tests (tests/test_grade_labs*.py), under the same rule the book applies: an error is allowed only in a
cell tagged ``raises-exception``. Executing all of them here again cost six minutes of the suite."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from browser import RequestLog, browser  # noqa: F401  (fixture)
from conftest import REPO
from opslab.background import BackgroundServer, free_port

pytestmark = pytest.mark.notebooks


EXECUTED_HERE = ["labs/m1_lifecycle"]
# The build runs as the book's workflow would for another owner: every link and install cell must follow.
EXAMPLE = {"GITHUB_REPOSITORY": "example-org/example-course", "GITHUB_SHA": "0123456789abcdef" * 2 + "01234567"}


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
        capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHONWARNINGS": "ignore", **EXAMPLE},
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
        assert "%pip install" not in page, f"{entry} shows the Colab install cell"
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


def test_the_book_serves_mathjax_itself(built_book):
    """dollarmath is on, so any page may hold math: MathJax must come from the book, not a CDN."""
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (built_book / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


# ---- where the course lives: the derived repository and commit, everywhere (opslab.where, opslab.book) ----

def hrefs(page: str) -> list[str]:
    return [unquote(h).replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', page)]


def test_every_launch_button_opens_the_lab_at_the_derived_repository_and_commit(built_book):
    repo, sha = EXAMPLE["GITHUB_REPOSITORY"], EXAMPLE["GITHUB_SHA"]
    for entry in toc_labs():
        links = hrefs((built_book / f"{entry}.html").read_text())
        launch = sorted(h for h in links if "mybinder.org" in h or "colab.research.google.com" in h)
        assert launch == [
            f"https://colab.research.google.com/github/{repo}/blob/colab-{sha}/{entry}.ipynb",
            f"https://mybinder.org/v2/gh/{repo}/{sha}?urlpath=tree/{entry}.ipynb",
        ], entry
        assert f"https://github.com/{repo}" in links, f"{entry}: no repository button"
        assert any(h.startswith(f"https://github.com/{repo}/issues/new") for h in links), f"{entry}: no issue button"


def downloads(built_book: Path) -> dict[str, Path]:
    """Each lab's .ipynb download (the page's download button), by toc entry."""
    return {entry: built_book / "_sources" / f"{entry}.ipynb" for entry in toc_labs()}


def test_every_lab_download_is_the_learner_version_installing_the_derived_commit(built_book):
    from opslab.assign.learner import fill_placeholders
    from opslab.where import Where

    where = Where(EXAMPLE["GITHUB_REPOSITORY"], EXAMPLE["GITHUB_SHA"], "example-org/churn-demo")
    for entry, path in downloads(built_book).items():
        assert path.is_file(), f"{entry}: no .ipynb download"
        text = path.read_text()
        assert text == fill_placeholders((REPO / f"{entry}.ipynb").read_text(), where), (
            f"{entry}: the download is not labs/ with the install cell pinned")
        first = json.loads(text)["cells"][0]
        assert f"git+https://github.com/{where.repository}@{where.commit}" in "".join(first["source"]), entry
        solution = json.loads((REPO / "solutions" / f"{Path(entry).name}.ipynb").read_text())
        hidden = ["".join(c["source"]) for c in solution["cells"] if "hidden-test" in c["metadata"].get("tags", [])]
        assert "BEGIN SOLUTION" not in text and not [h for h in hidden if h.strip() and h in text], entry


def test_the_course_under_any_other_name_is_nowhere_in_the_site(built_book):
    stand_ins = ["opslab-course/mlops-deployment", "OWNER/NAME", "OWNER/churn-demo", "__REPOSITORY__", "__COMMIT__"]
    found = {}
    for path in built_book.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".js", ".txt", ".md", ".json"}:
            text = path.read_text(errors="replace")
            hits = [s for s in stand_ins if s in text]
            if hits:
                found[str(path.relative_to(built_book))] = hits
    assert not found
    intro = (built_book / f"{toc_files()[0]}.html").read_text()
    assert "https://example-org-churn-demo.hf.space" in intro, "the Space follows the repository's owner"


# ---- the published site, crawled as a learner would: every page in Chromium ----

def site_pages(built_book: Path) -> list[str]:
    return sorted(str(p.relative_to(built_book)) for p in built_book.rglob("*.html")
                  if not p.relative_to(built_book).parts[0].startswith(("_static", "_sources", "reports")))


def target_exists(built_book: Path, url: str) -> bool:
    path = unquote(urlsplit(url).path).lstrip("/")
    target = built_book / path
    return target.is_file() or (target / "index.html").is_file()


@pytest.mark.browser
def test_every_page_opens_with_no_broken_link_or_image_and_asks_no_other_host(browser, book_url, built_book):  # noqa: F811
    context = browser.new_context()
    broken, foreign = {}, {}
    try:
        page = context.new_page()
        for path in site_pages(built_book):
            with RequestLog(page) as requests:
                response = page.goto(f"{book_url}/{path}", wait_until="networkidle")
            assert response is not None and response.ok, f"{path}: {response and response.status}"
            if requests.foreign():
                foreign[path] = requests.foreign()
            found = page.evaluate("""() => ({
                links: [...document.querySelectorAll('a[href]')].map(a => a.href),
                images: [...document.images].map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0]),
            })""")
            bad = [u for u in found["links"]
                   if u.startswith(book_url) and not target_exists(built_book, u[len(book_url):])]
            bad += [u for u, shown in found["images"] if not shown]
            if bad:
                broken[path] = sorted(set(bad))
    finally:
        context.close()
    assert len(site_pages(built_book)) > len(toc_files()), "the crawl missed pages"
    assert broken == {} and foreign == {}

"""`make serve`'s book (scripts/book_site.py): a preview with execution off, under a banner, served at once;
the full build, every notebook executed, behind it; the served folder switched to it when it succeeds.
On a small book of its own (one page, one notebook), so it takes seconds, not the course's minutes."""

import time

import pytest
from book_site import BANNER, BookSite

from book_support import PRINTED, write_small_book

pytestmark = pytest.mark.notebooks

@pytest.fixture(scope="module")
def book(tmp_path_factory):
    root = write_small_book(tmp_path_factory.mktemp("small-book"))
    site = BookSite(root)
    yield site
    site.stop()


def test_the_preview_has_every_page_under_the_banner_and_no_executed_output(book):
    html = book.build_preview()
    book.show(html)
    lab = (book.served / "lab.html").read_text()
    assert "Page one." in (book.served / "intro.html").read_text()
    assert BANNER.split(",")[0] in lab and PRINTED not in lab


def test_the_full_build_executes_the_notebooks_and_replaces_the_preview_when_done(book):
    assert book.full_build_state() == "none"
    book.start_full_build()
    deadline = time.monotonic() + 600
    while book.full_build_state() == "building" and time.monotonic() < deadline:
        time.sleep(1)
    assert book.full_build_state() == "done", book.full_log.read_text()[-3000:]
    book.show(book.full_html)
    lab = (book.served / "lab.html").read_text()
    assert PRINTED in lab and BANNER.split(",")[0] not in lab
    assert book.served.is_symlink() and book.served.resolve() == book.full_html.resolve()
    assert (book.build / ".jupyter_cache").is_dir(), "the next build re-runs only changed notebooks"


def test_stopping_ends_a_full_build_under_way(book):
    book.start_full_build()
    book.stop()
    assert book.full.poll() is not None

"""`make serve`'s book: served at once, its labs executed behind it.

A learner should not wait for nineteen labs to run before reading page one. So ``scripts/serve.py``
first builds a *preview* (``jupyter-book build`` with execution off: every page, the labs without their
outputs, each page under a banner that says the labs are executing), serves it, and starts the full build
(``make book``'s: every lab executed through the jupyter-cache in ``_build/.jupyter_cache``, so a later
build re-runs only the notebooks that changed) behind it. When that build succeeds the site switches to it
(``_build/served``, a symbolic link the server reads through, is swapped atomically); when it fails the
preview stays and the build's log says why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BANNER = ("Preview: the labs are executing behind this page, so their outputs are not shown yet. "
          "Reload in a few minutes (<code>make serve</code> prints when the full book is up).")


class BookError(RuntimeError):
    """The book did not build."""


def jupyter_book() -> str:
    return str(Path(sys.executable).with_name("jupyter-book"))


class BookSite:
    """The book of ``root`` built under ``root/_build``: the preview, the full build, and the folder served."""

    def __init__(self, root: Path = REPO):
        self.root = root
        self.build = root / "_build"
        self.preview_dir = self.build / "preview"
        self.full_html = self.build / "html"  # where `make book` (`jupyter-book build .`) writes
        self.served = self.build / "served"  # a symbolic link to the build being served
        self.full_log = self.build / "full-build.log"
        self.full: subprocess.Popen | None = None

    def build_preview(self, timeout: float = 600) -> Path:
        """Build the book with execution off under a banner (incremental: quick when little changed)."""
        config = yaml.safe_load((self.root / "_config.yml").read_text())
        config["execute"]["execute_notebooks"] = "off"
        config.setdefault("html", {})["announcement"] = BANNER
        self.preview_dir.mkdir(parents=True, exist_ok=True)
        (self.preview_dir / "_config.yml").write_text(yaml.safe_dump(config))
        done = subprocess.run(
            [jupyter_book(), "build", str(self.root), "--config", str(self.preview_dir / "_config.yml"),
             "--path-output", str(self.preview_dir), "-n", "--keep-going"],
            cwd=self.root, capture_output=True, text=True, timeout=timeout)
        html = self.preview_dir / "_build" / "html"
        if done.returncode != 0 or not (html / "index.html").is_file():
            raise BookError(f"the book's preview did not build:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        return html

    def show(self, html: Path) -> None:
        """Serve ``html`` from now on: the link is replaced in one step, so no request sees neither."""
        link = self.served.with_name(f".{self.served.name}.new")
        link.unlink(missing_ok=True)
        link.symlink_to(html.resolve(), target_is_directory=True)
        os.replace(link, self.served)

    def start_full_build(self) -> None:
        """`make book`'s build, every lab executed, in the background (its output in ``full_log``)."""
        self.build.mkdir(exist_ok=True)
        with open(self.full_log, "w") as log:
            self.full = subprocess.Popen([jupyter_book(), "build", str(self.root), "-n", "--keep-going"],
                                         cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def full_build_state(self) -> str:
        """``building``, ``done`` (and served), ``failed`` or ``none``."""
        if self.full is None:
            return "none"
        code = self.full.poll()
        if code is None:
            return "building"
        if code == 0 and (self.full_html / "index.html").is_file():
            return "done"
        return "failed"

    def stop(self) -> None:
        """Stop the full build and every kernel it started (its own process group)."""
        if self.full is not None and self.full.poll() is None:
            try:
                os.killpg(self.full.pid, signal.SIGTERM)
                self.full.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.full.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.full.wait()

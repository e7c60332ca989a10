"""The book build's view of where the course lives (a Sphinx extension: ``_config.yml``'s
``sphinx: extra_extensions``).

Jupyter Book 1.x takes the repository and launch buttons from ``_config.yml``; this extension puts the
derived values of :mod:`opslab.where` there before the theme reads them (``config-inited``):

- the repository and issue buttons link ``https://github.com/OWNER/NAME``;
- every lab page's Binder button opens the lab at the commit the book is built from, and its Colab button
  the lab as the page's download has it (its install cell pinned to that commit) at the tag
  ``colab-<commit>``, which the book's workflow pushes after the build (``scripts/publish_labs.py``:
  Colab opens notebooks from GitHub only, and a commit cannot hold its own id);
- the ``space_url``/``space_app_url`` substitutions name the Space of that owner;
- each lab's install cell (written by ``opslab assign`` with the placeholders of
  :data:`opslab.assign.learner.PLACEHOLDERS`) installs the course package at that commit, both in the
  notebook the build executes (``source-read``) and in the page's ``.ipynb`` download (``build-finished``).

When nothing tells where the course lives (a clone without a GitHub remote, outside a workflow), the build
warns and leaves ``_config.yml``'s values.
"""

from __future__ import annotations

from pathlib import Path

from opslab.assign.learner import fill_placeholders
from opslab.where import Where, WhereError, derive

__all__ = ["apply", "colab_ref", "setup"]

COLAB_TAG = "colab-{commit}"  # the tag scripts/publish_labs.py pushes: the built labs, install cells pinned


def colab_ref(commit: str) -> str:
    return COLAB_TAG.format(commit=commit)


def apply(config, where: Where) -> None:
    """Put ``where`` into a Sphinx config made by Jupyter Book from ``_config.yml``."""
    options = dict(config.html_theme_options or {})
    options["repository_url"] = where.repository_url
    options["repository_branch"] = where.commit  # the launch buttons open the lab at this commit
    config.html_theme_options = options
    substitutions = dict(config.myst_substitutions or {})
    substitutions.update(space_url=where.space_url, space_app_url=where.space_app_url,
                         repository_url=where.repository_url)
    config.myst_substitutions = substitutions


def _config_inited(app, config) -> None:
    from sphinx.util import logging

    try:
        where = derive(app.srcdir, config=Path(app.srcdir) / "_config.yml")
    except WhereError as err:
        logging.getLogger(__name__).warning(f"opslab.book: {err}; the book keeps _config.yml's repository")
        app.opslab_where = None
        return
    apply(config, where)
    app.opslab_where = where


def _source_read(app, docname: str, source: list[str]) -> None:
    if app.opslab_where is not None and str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = fill_placeholders(source[0], app.opslab_where)


def _build_finished(app, exception) -> None:
    if exception is not None or app.opslab_where is None:
        return
    for download in Path(app.outdir, "_sources").rglob("*.ipynb"):
        text = download.read_text()
        filled = fill_placeholders(text, app.opslab_where)
        if filled != text:
            download.write_text(filled)


def _launch_at_the_colab_tag(app, pagename, templatename, context, doctree) -> None:
    """Point the page's Colab button at the pinned labs' tag instead of the commit (after the theme's buttons)."""
    where = app.opslab_where
    if where is None:
        return
    at_commit = f"/github/{where.repository}/blob/{where.commit}/"
    at_tag = f"/github/{where.repository}/blob/{colab_ref(where.commit)}/"

    def visit(buttons):
        for button in buttons:
            if isinstance(button.get("buttons"), list):
                visit(button["buttons"])
            elif button.get("text") == "Colab" and at_commit in str(button.get("url", "")):
                button["url"] = button["url"].replace(at_commit, at_tag)

    visit(context.get("header_buttons") or [])


def setup(app):
    app.opslab_where = None
    app.connect("config-inited", _config_inited, priority=900)  # after Jupyter Book's own config steps
    app.connect("source-read", _source_read)
    app.connect("build-finished", _build_finished)
    app.connect("html-page-context", _launch_at_the_colab_tag, priority=900)  # the theme adds buttons at 501
    return {"parallel_read_safe": True, "parallel_write_safe": True}

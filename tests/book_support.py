"""A small book (one page, one notebook that prints PRINTED when executed) for the tests of `make serve`'s book."""

from pathlib import Path

import nbformat

PRINTED = "executed-here-" + "42"  # the notebook's output, written so that its source does not show it


def write_small_book(root: Path) -> Path:
    (root / "_config.yml").write_text(
        'title: "MLOps & Deployment"\nonly_build_toc_files: true\n'
        "execute:\n  execute_notebooks: cache\n  allow_errors: false\n  timeout: 120\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: lab\n")
    (root / "intro.md").write_text("# A small book\n\nPage one.\n")
    lab = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A lab"),
                                          nbformat.v4.new_code_cell('print("executed-here-" + str(6 * 7))')])
    lab.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(lab, root / "lab.ipynb")
    return root

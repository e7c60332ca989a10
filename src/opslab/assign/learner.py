"""The learner's version of a solution notebook: stubs for solutions, no hidden tests, no outputs."""

from __future__ import annotations

import hashlib

import nbformat

from opslab.assign.markers import BEGIN, END, PROMPT, MarkerError, has_solution, strip_solutions
from opslab.assign.questions import (
    CHECK,
    HIDE_INPUT,
    HIDE_OUTPUT,
    RAISES,
    REMOVE,
    REMOVE_OUTPUT,
    is_graded,
    is_hidden,
    tags,
)

# Cell metadata that belongs to a run, not to the lab: dropped so re-runs give the same bytes.
RUN_METADATA = {"execution", "papermill", "ExecuteTime", "collapsed", "scrolled"}
BOOTSTRAP_ID = "opslab-bootstrap"


# The install cell names the course's repository and commit by these placeholders; the book build fills
# them in (opslab.book: the executed notebook and the page's .ipynb download), from opslab.where.
PLACEHOLDERS = {"repository": "__REPOSITORY__", "commit": "__COMMIT__"}


class NeedsError(ValueError):
    """A solution's ``needs`` metadata is missing or malformed; the message names the lab."""


def needs_of(solution, lab: str) -> dict:
    """The lab's declared needs, ``{"extras": [...], "tools": [...]}``, from its notebook metadata."""
    needs = (solution.metadata.get("opslab") or {}).get("needs")
    if not isinstance(needs, dict) or set(needs) - {"extras", "tools"}:
        raise NeedsError(f"{lab}: declare the lab's needs in its notebook metadata, "
                         '{"opslab": {"needs": {"extras": [...], "tools": [...]}}} (CONTRIBUTING.md)')
    out = {}
    for key in ("extras", "tools"):
        value = needs.get(key, [])
        if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
            raise NeedsError(f"{lab}: needs.{key} must be a list of names")
        out[key] = sorted(set(value))
    return out


def bootstrap_source(lab: str, needs: dict) -> str:
    """First cell of every lab: where opslab is missing (Colab, a fresh kernel), install it at the commit the
    page was built from with only this lab's extras, holding every package the kernel has already loaded at
    its version (pip cannot swap a module in use: no surprise restart); where that cannot be, install anyway
    and say in one sentence to restart. Then provide the system tools the lab starts."""
    requirement = f"opslab{'[' + ','.join(needs['extras']) + ']' if needs['extras'] else ''} @ $SOURCE"
    source = f"git+https://github.com/{PLACEHOLDERS['repository']}@{PLACEHOLDERS['commit']}"
    return (
        "# Set-up (the book hides this cell). Where the course's helper package is missing (Colab, a fresh\n"
        "# kernel) it installs it at the commit this page was built from, with only what this lab needs,\n"
        "# leaving the packages this kernel has loaded as they are; then it provides the tools the lab starts.\n"
        "import importlib, importlib.util, re, sys, tempfile\n"
        f'SOURCE = "{source}"  # filled in by the book build\n'
        'if importlib.util.find_spec("opslab") is None:\n'
        '    if re.search(r"/__[A-Z]+__@", SOURCE):\n'
        '        raise SystemExit("This copy of the lab does not name the commit of the course it belongs to: "\n'
        '                         "open it from the course site (its Colab, Binder or download button).")\n'
        "    from importlib import metadata\n"
        "    owners = metadata.packages_distributions()\n"
        "    loaded = {d for m in list(sys.modules) for d in owners.get(m.partition('.')[0], [])}\n"
        '    with tempfile.NamedTemporaryFile("w", suffix="-held.txt", delete=False) as held:\n'
        '        held.write("\\n".join(sorted(f"{d}=={metadata.version(d)}" for d in loaded)))\n'
        "    HELD = held.name\n"
        f'    %pip install -q -c "$HELD" "{requirement}"\n'
        "    importlib.invalidate_caches()\n"
        '    if importlib.util.find_spec("opslab") is None:  # it needs newer versions of loaded packages\n'
        f'        %pip install -q "{requirement}"\n'
        '        raise SystemExit("opslab is installed, but it needed newer versions of packages this kernel had "\n'
        '                         "already loaded: restart the runtime (Colab: Runtime > Restart session), then run "\n'
        '                         "the lab from the top.")\n'
        "from opslab.needs import provide\n"
        f"provide({lab!r}, tools={needs['tools']!r})"
    )


def fill_placeholders(text: str, where) -> str:
    """``text`` (a notebook's JSON or a cell) with the install cell's placeholders set to ``where``."""
    return text.replace(PLACEHOLDERS["repository"], where.repository).replace(PLACEHOLDERS["commit"], where.commit)


def bootstrap_cell(lab: str, needs: dict):
    cell = nbformat.v4.new_code_cell(bootstrap_source(lab, needs), metadata={"tags": [REMOVE]})
    cell.id = BOOTSTRAP_ID
    return cell


def _clean_cell(cell, index: int, lab: str):
    """A copy of ``cell`` without outputs, counts or run metadata, with a stable id."""
    cell = nbformat.from_dict(dict(cell))
    metadata = cell.get("metadata", {})
    cell.metadata = nbformat.from_dict({k: v for k, v in metadata.items() if k not in RUN_METADATA})
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    if not cell.get("id"):
        cell.id = hashlib.sha1(f"{lab}:{index}".encode(), usedforsecurity=False).hexdigest()[:8]
    return cell


def _add_tag(cell, tag: str) -> None:
    cell.metadata["tags"] = sorted(set(tags(cell)) | {tag})


def solution_cell(source: str, exercise_id: str):
    """The solution of an exercise cell as a folded Markdown block (a dropdown admonition in the book):
    for self-learners, when ``_config.yml`` says ``opslab: {publish_solutions: true}``."""
    code = "\n".join(line for line in source.splitlines()
                     if not (BEGIN.match(line) or END.match(line) or PROMPT.match(line))).strip("\n")
    cell = nbformat.v4.new_markdown_cell(
        f"````{{admonition}} A solution\n:class: dropdown\n\n```python\n{code}\n```\n````")
    cell.id = f"{exercise_id}-solution"[:64]
    return cell


def learner_version(solution, lab: str, publish_solutions: bool = False):
    """The learner notebook of ``solution`` (a NotebookNode); ``lab`` names it in errors and metadata.
    With ``publish_solutions``, each exercise is followed by its solution, folded (self-learners)."""
    needs = needs_of(solution, lab)
    cells = [bootstrap_cell(lab, needs)]
    for index, original in enumerate(solution.cells):
        where = f"{lab}, cell {index}"
        if original.cell_type != "code":
            if has_solution(original.source):
                raise MarkerError(f"{where}: solution markers only work in code cells")
            cells.append(_clean_cell(original, index, lab))
            continue
        if is_graded(original) and is_hidden(original):
            continue
        cell = _clean_cell(original, index, lab)
        solved = None
        if has_solution(cell.source):  # an exercise: its code stays in view, the stub's traceback folds away
            solved = solution_cell(cell.source, cell.id) if publish_solutions else None
            cell.source = strip_solutions(cell.source, where)
            for tag in (RAISES, HIDE_OUTPUT):
                _add_tag(cell, tag)
        if is_graded(cell) or CHECK in tags(cell):  # a check: its code folds away, its failure is not shown
            for tag in (RAISES, HIDE_INPUT, REMOVE_OUTPUT):
                _add_tag(cell, tag)
        cells.append(cell)
        if solved is not None:
            cells.append(solved)
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 5
    nb.cells = cells
    kernelspec = solution.metadata.get("kernelspec") or {"name": "python3", "display_name": "Python 3"}
    nb.metadata = nbformat.from_dict({
        "kernelspec": dict(kernelspec),
        "language_info": {"name": "python"},
        "opslab": {"lab": lab, "needs": needs, "generated_by": "opslab assign: edit solutions/, not this file"},
    })
    nbformat.validate(nb)
    return nb

"""What the grader writes: grades.csv, one feedback page (and executed notebook) per learner, a summary."""

from __future__ import annotations

import contextlib
import csv
import functools
import html
import re
import signal
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from opslab.assign.questions import Question
from opslab.grade.compose import GRADER_KEY
from opslab.grade.score import QuestionResult

# No script runs and nothing loads from anywhere, whatever a notebook holds (a second line of defence
# behind the sanitizing): embedded images and the page's own style only.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass
class Grade:
    learner: str
    status: str  # ok, timeout, crashed, unreadable, wrong-lab, error (see the instructors' chapter)
    results: list[QuestionResult]
    seconds: float
    detail: str = ""
    executed: object = field(default=None, repr=False)  # the executed notebook, when there is one
    left: list[str] = field(default_factory=list)  # what it left running when its last cell ended
    answers: Path | None = field(default=None, repr=False)  # the grader's copy of what its answer cells wrote
    why_not_run: str = ""  # the verdict of questions its run never reached (timeout, crash)
    pending: bool = False  # run, but not judged yet (no reference when it ran)

    @property
    def total(self) -> int:
        return sum(r.earned for r in self.results)

    @property
    def maximum(self) -> int:
        return sum(r.points for r in self.results)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def csv_cell(value):
    """A text cell a spreadsheet shows as text: one starting with ``= + - @``, a tab or a carriage
    return gets a leading ``'`` (OWASP's advice against CSV injection); anything not UTF-8 is replaced,
    and a carriage return becomes a newline (the writer quotes cells with newlines, not with those)."""
    if not isinstance(value, str):
        return value
    value = value.encode("utf-8", errors="replace").decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    return "'" + value if value.startswith(FORMULA_START) else value


def write_csv(grades: list[Grade], questions: list[Question], path: Path, isolation: str = "") -> None:
    """The gradebook; its ``isolation`` column says how the submissions were sandboxed (WEAK: ...).
    UTF-8, and no text cell a spreadsheet would run as a formula (:func:`csv_cell`)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["learner", *[q.id for q in questions], "total", "max", "status", "seconds", "detail",
                         "isolation"])
        for g in grades:
            earned = {r.id: r.earned for r in g.results}
            writer.writerow([csv_cell(g.learner), *[earned.get(q.id, 0) for q in questions], g.total, g.maximum,
                             csv_cell(g.status), f"{g.seconds:.1f}", csv_cell(g.detail), csv_cell(isolation)])


def learner_copy(executed):
    """The executed notebook as the learner may see it: grader plumbing removed; of each answer cell
    only a line saying the grader collected the answer there (the verdicts are in the table above)."""
    nb = nbformat.from_dict(executed)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).pop(GRADER_KEY, None)
        if meta and meta.get("kind") == "answer":
            cell.outputs = []
        elif meta:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":  # a traceback's frames are noise here
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        if meta:
            cell.source = meta["shown"]
        if cell.cell_type == "code":  # counts depend on timing (a kernel that dies mid-cell): not kept
            cell.execution_count = None
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("papermill", None)
    return nb


SAFE_DATA = ("text/plain", "text/html", "text/markdown", "image/png", "image/jpeg")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
                "hr", "i", "img", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody", "td",
                "th", "thead", "tr", "ul", "del", "kbd", "dl", "dt", "dd"}


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    """Only inert attributes; links to web pages only; images only when embedded (no request at load)."""
    if name in ("class", "id", "title", "alt") or (tag in ("td", "th") and name == "align"):
        return True
    if tag == "a" and name == "href":
        return value.startswith(("https://", "http://", "#", "mailto:"))
    if tag == "img" and name == "src":
        return bool(re.fullmatch(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=]+", value))
    return False


def clean_html(element) -> str:
    """nbconvert's filter of the same name, with headings, paragraphs and embedded images allowed."""
    import bleach

    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(text, tags=ALLOWED_TAGS, attributes=_allowed_attribute,
                        protocols=["http", "https", "mailto", "data"], strip=True, strip_comments=True)


def safe_outputs(nb):
    """Keep only output types the page can show without running anything: streams, errors, text,
    HTML and Markdown (both sanitized when rendered) and images whose data is really base64."""
    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind in ("stream", "error"):
                kept.append(output)
            elif kind in ("display_data", "execute_result"):
                data = {k: v for k, v in output.get("data", {}).items() if k in SAFE_DATA}
                for image in ("image/png", "image/jpeg"):
                    if image in data and not (isinstance(data[image], str) and BASE64.fullmatch(data[image])):
                        del data[image]
                if data:
                    output["data"], output["metadata"] = data, {}
                    kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept
        cell.pop("attachments", None)
    return nb


@functools.cache
def _exporter():
    """One nbconvert exporter for every page of a batch (it loads its templates once)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="basic", sanitize_html=True, exclude_input_prompt=True,
                        exclude_output_prompt=True, filters={"clean_html": clean_html})


MAX_CELL_CHARS = 20_000  # a cell's source (or a rich output) rendered; beyond, shown cut, as text
MAX_DEPTH = 64  # HTML or Markdown nesting rendered; deeper, shown as text (nesting costs quadratic time)
MAX_PAGE_CHARS = 20_000_000  # a page's rendered notebook; beyond, the page links the notebook instead
RENDER_SECONDS = 30  # rendering one page; beyond, the page links the notebook instead
TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(/?)>")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class RenderLimit(Exception):
    """A page took too long to render."""


def nesting(text: str) -> int:
    """How deep ``text`` nests: HTML elements left open, Markdown quotes (``>``) and list indentation."""
    depth = deepest = 0
    for closing, name, self_closing in TAG.findall(text):
        if name.lower() in VOID or self_closing:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    for line in text.splitlines():
        stripped = line.lstrip(" \t>")
        prefix = line[:len(line) - len(stripped)]
        deepest = max(deepest, prefix.count(">"), len(prefix.expandtabs(4)) // 4)
    return deepest


def as_text(text: str, why: str) -> str:
    """Markdown that shows ``text`` (cut to MAX_CELL_CHARS) verbatim, in a fence no line of it can close."""
    cut = text[:MAX_CELL_CHARS]
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", cut)), default=0) + 1)
    more = f", {len(text) - len(cut)} more characters not shown" if len(cut) < len(text) else ""
    return f"*[opslab grade: {why}; shown as text{more}]*\n\n{fence}text\n{cut}\n{fence}\n"


def bounded(nb):
    """The notebook with what would be costly to render made plain: a Markdown cell too large or too
    deeply nested shown as text, a code cell's source cut, an HTML or Markdown output too large or too
    deep dropped (its plain text stays)."""
    for cell in nb.cells:
        source = cell.get("source", "")
        if cell.cell_type == "markdown":
            deep = nesting(source) > MAX_DEPTH
            if deep or len(source) > MAX_CELL_CHARS:
                cell.source = as_text(source, "this cell nests too deeply" if deep else "this cell is too large")
        elif len(source) > MAX_CELL_CHARS:
            cell.source = source[:MAX_CELL_CHARS] + f"\n# [opslab grade: {len(source) - MAX_CELL_CHARS} more " \
                                                  "characters not shown]"
        if cell.cell_type != "markdown" and cell.cell_type != "code":
            cell.source = as_text(source, "a raw cell") if source else ""
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for kind in ("text/html", "text/markdown"):
                value = data.get(kind)
                if isinstance(value, list):
                    value = "".join(value)
                if isinstance(value, str) and (len(value) > MAX_CELL_CHARS or nesting(value) > MAX_DEPTH):
                    del data[kind]
                    data.setdefault("text/plain", f"[opslab grade: a {kind} output too large or too deeply "
                                                  "nested to show]")
    return nb


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise RenderLimit in this block after ``seconds`` (SIGALRM: in the main thread only; elsewhere
    the size and depth limits alone bound the work)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise RenderLimit(f"rendering took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def render_notebook(nb, seconds: float = RENDER_SECONDS) -> str:
    """The notebook as an HTML fragment (nbconvert, Markdown rendered, all HTML sanitized, no script),
    within the size, depth and time limits; raises RenderLimit when it cannot be."""
    node = bounded(safe_outputs(nbformat.from_dict(nb)))
    with time_limit(seconds):
        body, _ = _exporter().from_notebook_node(node)
    if len(body) > MAX_PAGE_CHARS:
        raise RenderLimit(f"the rendered notebook would be {len(body) // 2**20} MB")
    return body


STYLE = """body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
pre{white-space:pre-wrap;margin:.3em 0}.input_area{background:#f4f4f4;padding:.2em .5em;margin-top:1em}
.output_stderr{color:#850}.output_error{color:#a00}.pass{color:#070}.fail{color:#a00}img{max-width:100%}"""


def feedback_html(grade: Grade, lab: str, notebook_name: str | None, nb_html: str) -> str:
    rows = "\n".join(
        f'<tr><td>{html.escape(r.id)}</td><td>{r.earned} / {r.points}</td>'
        f'<td class="{"pass" if r.earned else "fail"}">{"passed" if r.earned else html.escape(r.message)}</td></tr>'
        for r in grade.results)
    name = html.escape(notebook_name or "")
    href = html.escape(urllib.parse.quote(notebook_name or ""))  # a learner id may hold # ? % or spaces
    link = (f'<p>Your notebook as the grader ran it: <a href="{href}">{name}'
            f"</a> (shown below).</p>") if notebook_name else ""
    detail = f"<p>{html.escape(grade.detail)}</p>" if grade.detail else ""
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\"><title>{html.escape(lab)}: "
            f"{html.escape(grade.learner)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{html.escape(lab)}: {html.escape(grade.learner)}</h1>\n"
            f"<p><b>{grade.total} / {grade.maximum} points</b>, status <b>{html.escape(grade.status)}</b></p>{detail}\n"
            f"<table><tr><th>question</th><th>points</th><th>result</th></tr>\n{rows}</table>\n{link}\n"
            f"<h2>Executed notebook</h2>\n{nb_html}\n</body></html>\n")


def write_feedback(grade: Grade, lab: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    notebook_name, nb_html = None, "<p>(nothing ran)</p>"
    if grade.executed is not None:
        copy = learner_copy(grade.executed)
        notebook_name = f"{grade.learner}.ipynb"
        # errors="replace": text no UTF-8 file can hold (a lone surrogate a kernel printed) becomes "?"
        (folder / notebook_name).write_text(nbformat.writes(copy), encoding="utf-8", errors="replace")
        try:
            nb_html = render_notebook(copy)
        except RenderLimit as err:
            nb_html = f"<p>(not shown here: {html.escape(str(err))}; the notebook itself is linked above)</p>"
        except Exception as err:  # whatever a notebook holds, the batch goes on and the page is written
            nb_html = (f"<p>(not shown here: it could not be rendered, {html.escape(type(err).__name__)}; the "
                       "notebook itself is linked above)</p>")
    page = feedback_html(grade, lab, notebook_name, nb_html)
    (folder / f"{grade.learner}.html").write_text(page, encoding="utf-8", errors="replace")


def summary(grades: list[Grade], questions: list[Question], out: Path, isolation: str) -> str:
    statuses = Counter(g.status for g in grades)
    lines = [f"graded {len(grades)} submissions into {out}/grades.csv and {out}/feedback/",
             "status: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items()))]
    if grades:
        maximum = grades[0].maximum
        mean = sum(g.total for g in grades) / len(grades)
        lines.append(f"mean total {mean:.1f} / {maximum}")
        for q in questions:
            passed = sum(1 for g in grades for r in g.results if r.id == q.id and r.earned)
            lines.append(f"  {q.id:<32} passed by {passed} of {len(grades)}")
    for g in grades:
        if g.status not in ("ok",):
            lines.append(f"  {g.learner}: {g.status}: {g.detail}")
    lines.append(f"isolation: {isolation}")
    return "\n".join(lines)

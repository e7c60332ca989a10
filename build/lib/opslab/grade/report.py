"""What the grader writes: grades.csv, one feedback page (and executed notebook) per learner, a summary."""

from __future__ import annotations

import csv
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from opslab.assign.questions import Question
from opslab.grade.compose import GRADER_KEY, pass_line
from opslab.grade.score import QuestionResult

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Grade:
    learner: str
    status: str  # ok, timeout, crashed, unreadable, wrong-lab, error (see the instructors' chapter)
    results: list[QuestionResult]
    seconds: float
    detail: str = ""
    executed: object = field(default=None, repr=False)  # the executed notebook, when there is one

    @property
    def total(self) -> int:
        return sum(r.earned for r in self.results)

    @property
    def maximum(self) -> int:
        return sum(r.points for r in self.results)


def write_csv(grades: list[Grade], questions: list[Question], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["learner", *[q.id for q in questions], "total", "max", "status", "seconds", "detail"])
        for g in grades:
            earned = {r.id: r.earned for r in g.results}
            writer.writerow([g.learner, *[earned.get(q.id, 0) for q in questions], g.total, g.maximum,
                             g.status, f"{g.seconds:.1f}", g.detail])


def learner_copy(executed, nonce: str):
    """The executed notebook as the learner may see it: hidden tests' code and grader plumbing removed."""
    nb = nbformat.from_dict(executed)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).pop(GRADER_KEY, None)
        for output in cell.get("outputs", []):
            if meta and output.get("output_type") == "error":  # tracebacks would show grader and hidden code
                output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
            if output.get("output_type") == "stream":
                output["text"] = "".join(output.get("text", "")).replace(pass_line(nonce) + "\n", "")
        if meta:
            cell.source = meta["shown"]
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("papermill", None)
    return nb


def _render_output(output) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        text = "".join(output.get("text", ""))
        return f'<pre class="{html.escape(output.get("name", ""))}">{html.escape(text)}</pre>' if text else ""
    if kind == "error":
        trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
        trace = trace or f"{output.get('ename', '')}: {output.get('evalue', '')}"
        return f'<pre class="error">{html.escape(trace)}</pre>'
    data = output.get("data", {})
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{"".join(data["image/png"]).strip()}">'
    if "text/plain" in data:
        return f"<pre>{html.escape(''.join(data['text/plain']))}</pre>"
    return ""


def render_notebook(nb) -> str:
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(f'<div class="md"><pre>{html.escape(cell.source)}</pre></div>')
        elif cell.cell_type == "code":
            parts.append(f'<pre class="code">{html.escape(cell.source)}</pre>')
            parts += [_render_output(o) for o in cell.get("outputs", [])]
    return "\n".join(p for p in parts if p)


STYLE = """body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
pre{white-space:pre-wrap;margin:.3em 0}.code{background:#f4f4f4;padding:.5em}.error{color:#a00}
.stderr{color:#850}.md pre{font-family:inherit}.pass{color:#070}.fail{color:#a00}"""


def feedback_html(grade: Grade, lab: str, notebook_name: str | None, nb_html: str) -> str:
    rows = "\n".join(
        f'<tr><td>{html.escape(r.id)}</td><td>{r.earned} / {r.points}</td>'
        f'<td class="{"pass" if r.earned else "fail"}">{"passed" if r.earned else html.escape(r.message)}</td></tr>'
        for r in grade.results)
    name = html.escape(notebook_name or "")
    link = (f'<p>Your notebook as the grader ran it: <a href="{name}">{name}'
            f"</a> (shown below).</p>") if notebook_name else ""
    detail = f"<p>{html.escape(grade.detail)}</p>" if grade.detail else ""
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(lab)}: "
            f"{html.escape(grade.learner)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{html.escape(lab)}: {html.escape(grade.learner)}</h1>\n"
            f"<p><b>{grade.total} / {grade.maximum} points</b>, status <b>{html.escape(grade.status)}</b></p>{detail}\n"
            f"<table><tr><th>question</th><th>points</th><th>result</th></tr>\n{rows}</table>\n{link}\n"
            f"<h2>Executed notebook</h2>\n{nb_html}\n</body></html>\n")


def write_feedback(grade: Grade, lab: str, folder: Path, nonce: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    notebook_name, nb_html = None, "<p>(nothing ran)</p>"
    if grade.executed is not None:
        copy = learner_copy(grade.executed, nonce)
        notebook_name = f"{grade.learner}.ipynb"
        (folder / notebook_name).write_text(nbformat.writes(copy))
        nb_html = render_notebook(copy)
    (folder / f"{grade.learner}.html").write_text(feedback_html(grade, lab, notebook_name, nb_html))


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

"""Find what to grade: the lab's solution and the learners' submissions, read without trusting them."""

from __future__ import annotations

import hashlib
import os
import unicodedata
import warnings
from pathlib import Path

import nbformat

MAX_BYTES = 50 * 2**20  # a submission larger than this is not read


class UnreadableSubmission(ValueError):
    """Not a notebook we can read; the message says why."""


def find_solution(lab: str, solutions: Path = Path("solutions")) -> Path:
    """``lab`` is a lab name (``m1_lifecycle``) or a path to its solution notebook."""
    path = Path(lab)
    if path.suffix == ".ipynb":
        if path.is_file():
            return path
        raise FileNotFoundError(f"{lab}: no such solution notebook")
    candidate = solutions / f"{lab}.ipynb"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in solutions.glob("*.ipynb"))) or "none"
    raise FileNotFoundError(f"no solution for lab {lab!r} in {solutions}/ (labs: {known})")


MAX_ID_BYTES = 200  # a learner id is also a file name (``<id>.html``, ``<id>.ipynb``): at most 255 bytes


def learner_id(name: str) -> str:
    """The learner id of a submission's file name without ``.ipynb``: valid UTF-8, printable, and
    different for different names, whatever bytes the name holds.

    Bytes that are not UTF-8, control and format characters (a newline, an escape sequence, a
    right-to-left mark) and ``%`` itself are written ``%XX``, one per byte; an empty name is ``%00``
    (no file name can hold that byte). An id longer than 200 bytes is cut and ends in ``~`` and a hash
    of the whole name."""
    raw = os.fsencode(name)
    if not raw:
        return "%00"
    parts = []
    for char in raw.decode("utf-8", errors="surrogateescape"):
        if "\udc80" <= char <= "\udcff":  # a byte that is not UTF-8
            parts.append(f"%{ord(char) - 0xDC00:02X}")
        elif char == "%" or unicodedata.category(char) in ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"):
            parts.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8", errors="surrogatepass")))
        else:
            parts.append(char)
    text = "".join(parts)
    if len(text.encode()) > MAX_ID_BYTES:
        text = text.encode()[:MAX_ID_BYTES - 18].decode(errors="ignore") + "~" + hashlib.sha256(raw).hexdigest()[:16]
    return text


def find_submissions(folder: Path) -> dict[str, Path]:
    """learner id (:func:`learner_id` of the file name without .ipynb) -> path, sorted by learner id.

    Every regular file whose name ends in ``.ipynb`` is a submission, whatever else its name holds
    (hidden files too: a learner's ``.ada.ipynb`` is graded, not skipped)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder of submissions")
    found = {learner_id(p.name[:-len(".ipynb")]): p for p in folder.iterdir()
             if p.name.endswith(".ipynb") and p.is_file()}
    return dict(sorted(found.items()))


def read_submission(path: Path):
    """The submission as a v4 notebook, or UnreadableSubmission saying what is wrong with the file."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableSubmission("the file is empty")
    if size > MAX_BYTES:
        raise UnreadableSubmission(
            f"the file is {size // 2**20} MB; submissions over {MAX_BYTES // 2**20} MB are not read")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(path.read_text(encoding="utf-8", errors="strict"), as_version=4)
    except Exception as err:
        raise UnreadableSubmission(f"not a Jupyter notebook ({type(err).__name__}: {str(err)[:200]})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise UnreadableSubmission("not a Jupyter notebook (no list of cells)")
    for number, cell in enumerate(cells):
        if not (isinstance(cell, dict) and isinstance(cell.get("source", ""), str)
                and isinstance(cell.get("metadata", {}), dict) and isinstance(cell.get("cell_type"), str)):
            raise UnreadableSubmission(f"not a Jupyter notebook (cell {number} is malformed)")
        cell.setdefault("metadata", nbformat.from_dict({}))
        cell.setdefault("source", "")
    if not isinstance(nb.get("metadata", {}), dict):
        nb["metadata"] = nbformat.from_dict({})
    try:  # JSON may escape what UTF-8 cannot hold (a lone surrogate, "\ud800"): no file could store it
        nbformat.writes(nb).encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableSubmission("the notebook holds text that is not valid Unicode (an escaped lone "
                                   "surrogate such as \\ud800)") from None
    except Exception:  # nbformat's own complaints are for the grading to meet, as before  # noqa: S110
        pass
    return nb

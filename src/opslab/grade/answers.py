"""The learner's side of grading: what an answer cell sends out of the sandboxed kernel.

An answer cell of a solution (tag ``answer``) says what the judge asks of the learner's code: call a
function on inputs the judge chose (``JUDGE_SEED``), read a value, read a file the learner wrote. The
grader runs it in the learner's kernel, in its place in the notebook, as::

    from opslab.grade.answers import save
    def _answer(JUDGE_SEED=<seed>):
        <the answer cell>
        return ANSWER
    save("<question>", _answer)

:func:`save` turns ``ANSWER`` into plain data in ``$OPSLAB_ANSWERS``: JSON for ``None``, ``bool``,
``int``, ``float``, ``str``, lists and dicts with string keys; ``.npy`` files (no pickle) for NumPy
arrays; Arrow IPC files for pandas frames and series; base64 for bytes. Anything else is refused.

Nothing here is trusted. The learner's code runs in this process and can change any of it; it can only
ever change *what data* comes out, which the judge (opslab.grade.judge, another process and user) reads
as plain data and checks strictly. No expectation, test or verdict is ever in this process.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from pathlib import Path

ANSWERS_ENV = "OPSLAB_ANSWERS"
MAX_DEPTH = 32
MAX_ITEMS = 200_000


class NotPlainData(TypeError):
    """The answer holds something that cannot cross to the judge as plain data."""


def file_name(question: str, n: int, suffix: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', question)}.{n}{suffix}"


class _Writer:
    def __init__(self, folder: Path, question: str):
        self.folder, self.question, self.files, self.items = folder, question, 0, 0

    def side_file(self, suffix: str) -> Path:
        self.files += 1
        return self.folder / file_name(self.question, self.files, suffix)

    def plain(self, value, depth: int = 0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise NotPlainData(f"the answer is nested deeper than {MAX_DEPTH} or holds over {MAX_ITEMS} items")
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
            return [self.plain(v, depth + 1) for v in value]
        if type(value) is dict:
            if not all(type(k) is str for k in value):
                raise NotPlainData("a dict in the answer has keys that are not strings")
            return {k: self.plain(v, depth + 1) for k, v in value.items()}
        if type(value) in (bytes, bytearray):
            return {"__bytes__": base64.b64encode(bytes(value)).decode()}
        if isinstance(value, Path):
            return str(value)
        module = type(value).__module__.split(".")[0]
        if module == "numpy":
            import numpy as np

            if isinstance(value, np.ndarray):
                if value.dtype.hasobject:
                    raise NotPlainData("a NumPy array of Python objects is not plain data")
                path = self.side_file(".npy")
                np.save(path, value, allow_pickle=False)
                return {"__npy__": path.name}
            if isinstance(value, np.generic):
                return self.plain(value.item(), depth + 1)
        if module == "pandas":
            import pandas as pd

            if isinstance(value, (pd.DataFrame, pd.Series)):
                import pyarrow as pa
                import pyarrow.feather as feather

                frame = value.to_frame() if isinstance(value, pd.Series) else value
                frame = frame.reset_index(drop=True)
                frame.columns = [str(c) for c in frame.columns]
                path = self.side_file(".arrow")
                feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), path,
                                      compression="uncompressed")
                return {"__series__" if isinstance(value, pd.Series) else "__frame__": path.name}
        raise NotPlainData(f"a {type(value).__name__} cannot be sent to the grader: answer with plain data "
                           "(numbers, strings, lists, dicts, NumPy arrays, pandas frames)")


def save(question: str, compute, folder: str | os.PathLike | None = None) -> None:
    """Compute the answer to ``question`` and write it as plain data (or the error that stopped it)."""
    target = Path(folder or os.environ.get(ANSWERS_ENV) or "opslab-answers")
    target.mkdir(parents=True, exist_ok=True)
    writer = _Writer(target, question)
    try:
        record = {"question": question, "value": writer.plain(compute())}
    except (Exception, SystemExit) as err:  # whatever stopped the learner's code is its answer here
        record = {"question": question, "error": type(err).__name__}
    (target / file_name(question, 0, ".json")).write_text(json.dumps(record, allow_nan=False))

"""Solution markers: replace ``# BEGIN SOLUTION[: hint]`` ... ``# END SOLUTION`` by a learner's stub."""

from __future__ import annotations

import json
import re

BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\b\s*(?::\s*(?P<hint>.*?))?\s*$")
END = re.compile(r"^[ \t]*#\s*END SOLUTION\b")
PROMPT = re.compile(r"^(?P<indent>[ \t]*)#\s*PROMPT:\s?(?P<code>.*)$")
DEFAULT_HINT = "write your solution here"


class MarkerError(ValueError):
    """Solution markers that do not pair up; the message names the line."""


def has_solution(source: str) -> bool:
    return any(BEGIN.match(line) for line in source.splitlines())


def stub(indent: str, hint: str | None) -> str:
    return f"{indent}raise NotImplementedError({json.dumps(hint or DEFAULT_HINT, ensure_ascii=False)})"


def strip_solutions(source: str, where: str = "cell") -> str:
    """The learner's version of ``source``: each solution block becomes a stub at the marker's indent.

    A block that contains ``# PROMPT: code`` lines becomes those lines (``code`` at the comment's
    indentation) instead of the stub, for exercises such as ``threshold = ...``.
    """
    out: list[str] = []
    block: list[str] | None = None
    begin: re.Match | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN.match(line):
            if block is not None:
                raise MarkerError(f"{where}, line {number}: BEGIN SOLUTION inside another solution block")
            begin, block = BEGIN.match(line), []
        elif END.match(line):
            if block is None:
                raise MarkerError(f"{where}, line {number}: END SOLUTION without BEGIN SOLUTION")
            prompts = [PROMPT.match(b) for b in block if PROMPT.match(b)]
            if prompts:
                out += [m["indent"] + m["code"] for m in prompts]
            else:
                out.append(stub(begin["indent"], begin["hint"]))
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise MarkerError(f"{where}: BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)

"""The course's Prometheus rules (package data), and promtool to check and unit-test rule files."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from opslab.monitoring.binaries import binary

# recording.yml: the SLIs; alerts.yml: the alerts; *_test.yml: their promtool unit tests
SHIPPED = ("recording.yml", "alerts.yml", "recording_test.yml", "alerts_test.yml")

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": 31_536_000_000}
_DURATION = r"(?:\d+(?:ms|s|m|h|d|w|y))+"


class RuleError(ValueError):
    """promtool refused a rule file; the message quotes what it said."""


@dataclass(frozen=True)
class PromtoolResult:
    ok: bool  # promtool exited 0
    returncode: int
    output: str  # what promtool printed (stdout and stderr)


def rule_file(name: str) -> str:
    """The text of one of the course's shipped files (see :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped rule file {name!r}; choose one of {', '.join(SHIPPED)}")
    return (resources.files("opslab.monitoring") / "files" / name).read_text()


def write_rules(folder: str | Path, names: tuple[str, ...] = SHIPPED, compress: float | None = None,
                min_for: str = "3s") -> list[Path]:
    """Copy shipped rule files into ``folder``, optionally time-compressed (see :func:`compress_durations`;
    no compressed ``for:`` is shorter than ``min_for``, so one slow scrape on a busy machine is no outage)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        text = rule_file(name)
        if compress and not name.endswith("_test.yml"):
            text = compress_durations(text, compress, min_for)
        (folder / name).write_text(text)
        written.append(folder / name)
    return written


def _promtool(*args: str, timeout: float = 60) -> PromtoolResult:
    done = subprocess.run([binary("promtool"), *args], capture_output=True, text=True, timeout=timeout)
    return PromtoolResult(done.returncode == 0, done.returncode, (done.stdout + done.stderr).strip())


def check_rules(*paths: str | Path) -> str:
    """``promtool check rules``: return its summary, or raise :class:`RuleError` quoting its complaint."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise RuleError(f"no such rule file: {', '.join(missing)}")
    result = _promtool("check", "rules", *map(str, paths))
    if not result.ok:
        raise RuleError(f"promtool check rules refused {', '.join(map(str, paths))}:\n{result.output}")
    return result.output


def test_rules(*test_files: str | Path) -> PromtoolResult:
    """``promtool test rules``: run unit tests of rules (exit 1 and an expected/got diff when one fails)."""
    missing = [str(p) for p in test_files if not Path(p).is_file()]
    if missing:
        raise RuleError(f"no such rule test file: {', '.join(missing)}")
    return _promtool("test", "rules", *map(str, test_files), timeout=120)


test_rules.__test__ = False  # not a pytest test, despite its name


def duration_ms(duration: str) -> int:
    return sum(int(n) * _UNITS_MS[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration))


def _format_ms(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def compress_durations(text: str, factor: float, min_for: str = "0s") -> str:
    """The same rules on a faster clock: every range (``[5m]``, ``[30m:1m]``) and ``for:`` duration
    divided by ``factor`` (60 turns minutes into seconds), for end-to-end runs with 1 s scrapes;
    ``for:`` windows no shorter than ``min_for``."""
    def scale(duration: str, floor_ms: int = 1) -> str:
        return _format_ms(max(floor_ms, round(duration_ms(duration) / factor)))

    def ranges(match: re.Match) -> str:
        return "[" + ":".join(scale(part) if part else part for part in match.group(1).split(":")) + "]"

    text = re.sub(rf"\[({_DURATION}(?::(?:{_DURATION})?)?)\]", ranges, text)
    floor = max(1, duration_ms(min_for))
    return re.sub(rf"(\bfor:\s*)({_DURATION})", lambda m: m.group(1) + scale(m.group(2), floor), text)

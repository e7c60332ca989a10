"""Record how long each unit of the suite's work takes, for the order it runs them in (tests/conftest.py).

    python scripts/record_durations.py                 # runs the whole suite (as `make test`) and records it
    python scripts/record_durations.py run.xml ...     # updates the record from JUnit XML reports of runs
    python scripts/record_durations.py -- -x           # arguments after -- go to pytest

A unit is what one pytest-xdist worker runs in one go: a test file, or, in the grading files
(tests/test_grade_labs*.py), one lab's test (:func:`unit_of`). tests/durations.json holds each unit's
seconds (its tests' setup, call and teardown summed, module fixtures included), longest first. A whole run
replaces the record; reports update it (the mean of the reports for each unit they ran), and units of files
that are gone are dropped. Refresh it after adding a long test or when a unit's cost changes much; commit it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DURATIONS = REPO / "tests" / "durations.json"
SPLIT = "test_grade_labs"  # files whose tests are units of their own: one lab graded per test


def unit_of(nodeid: str) -> str:
    """The unit of work of a test: its file (``tests/test_x.py``), or the test itself in a grading file."""
    path = nodeid.split("::", 1)[0]
    return nodeid if Path(path).name.startswith(SPLIT) else path


def recorded_durations(path: Path = DURATIONS) -> dict[str, float]:
    return json.loads(path.read_text()) if path.is_file() else {}


def nodeid_of(classname: str, name: str, root: Path = REPO) -> str | None:
    """The node id of a JUnit test case (``classname`` ``tests.test_x`` or ``tests.test_x.TestY``), or None
    when no test file of the repository matches it."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        path = root.joinpath(*parts[:end]).with_suffix(".py")
        if path.is_file():
            return "::".join([path.relative_to(root).as_posix(), *parts[end:], name])
    return None


def durations_of(junit: Path, root: Path = REPO) -> dict[str, float]:
    """Seconds per unit in one JUnit XML report (pytest's ``time`` of a test: setup + call + teardown)."""
    found: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit).iter("testcase"):
        nodeid = nodeid_of(case.get("classname", ""), case.get("name", ""), root)
        if nodeid is not None:
            found[unit_of(nodeid)] += float(case.get("time") or 0)
    return dict(found)


def merged(recorded: dict[str, float], measured: dict[str, float], root: Path = REPO) -> dict[str, float]:
    """``recorded`` updated with ``measured``, without units of files that are gone, longest first, to 0.1 s."""
    both = {**recorded, **measured}
    kept = {unit: round(seconds, 1) for unit, seconds in both.items() if (root / unit.split("::")[0]).is_file()}
    return dict(sorted(kept.items(), key=lambda item: (-item[1], item[0])))


def run_suite(pytest_args: list[str], junit: Path) -> int:
    """The suite with its own settings (pyproject.toml), writing a JUnit XML report."""
    return subprocess.call([sys.executable, "-m", "pytest", f"--junitxml={junit}", *pytest_args], cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, pytest_args = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("junit", nargs="*", type=Path, help="JUnit XML reports of runs (default: run the suite)")
    parser.add_argument("--out", type=Path, default=DURATIONS, help="the record (default: %(default)s)")
    args = parser.parse_args(ours)

    runs: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        reports, whole_run = args.junit, not args.junit
        if whole_run:
            reports = [Path(tmp) / "junit.xml"]
            code = run_suite(pytest_args, reports[0])
            if code != 0:
                print(f"record_durations: the suite failed (pytest exit {code}): nothing recorded", file=sys.stderr)
                return 1
        for report in reports:
            for unit, seconds in durations_of(report).items():
                runs[unit].append(seconds)
    measured = {unit: sum(seconds) / len(seconds) for unit, seconds in runs.items()}  # the mean of the reports
    if not measured:
        print("record_durations: the report(s) hold no test of this repository", file=sys.stderr)
        return 1
    result = merged({} if whole_run else recorded_durations(args.out), measured)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"record_durations: {len(measured)} units measured, {len(result)} recorded in {args.out}")
    for unit, seconds in list(result.items())[:10]:
        print(f"  {seconds:8.1f} s  {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

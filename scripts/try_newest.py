#!/usr/bin/env python3
"""Try the course on the newest releases of what it needs, without touching the pins.

    python3 scripts/try_newest.py --dry-run            # only resolve: what would change (a few seconds)
    python3 scripts/try_newest.py --out _build/newest  # resolve, install, run the suite (and book build)

1. Resolve requirements.in to the newest releases it allows (``pip install --dry-run --report``) and
   compare them with requirements.txt; write them to OUT/requirements-newest.txt (requirements.txt is
   never written).
2. Unless --dry-run: set up a separate venv (OUT/venv) with them through scripts/setup.sh, the one home
   of set-up, then run the whole suite (which builds the book: tests/test_book.py), optionally with no
   network (--offline: scripts/offline.sh), with a JUnit report.
3. Read the ``action.yml`` of every action the repository's workflows use (``uses: owner/name@ref``, in
   .github/workflows and in the workflow templates under src/), online from GitHub unless
   --actions-from names a local copy, and report each whose ``runs.using`` is older than node24 (GitHub
   removed Node 20 from its runners in September 2026: such an action no longer runs).
4. Write a Markdown summary (what changed, what broke) to $GITHUB_STEP_SUMMARY when set, else stdout,
   and to OUT/summary.md. Exit 1 when anything broke (or an action runs on an old Node), so the scheduled
   run goes red.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOK_TESTS = "tests/test_book.py"
NODE_CURRENT = 24  # the oldest Node runtime GitHub's runners still have (Node 20 removed in September 2026)
_SKIPPED = {".git", "_build", "node_modules", "__pycache__", "build", "dist"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a pin file, by canonical name."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def top_level(requirements_in: Path) -> set[str]:
    names = set()
    for line in requirements_in.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
        if match:
            names.add(canonical(match.group(1)))
    return names


def resolve(requirements_in: Path, report: Path, pip_args: list[str]) -> dict[str, tuple[str, str]]:
    """What pip would install from scratch for ``requirements_in``: canonical name -> (name, version)."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--report", str(report), "-r", str(requirements_in), *pip_args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"try_newest: pip could not resolve {requirements_in}:\n{done.stderr[-3000:]}")
    resolved = {}
    for item in json.loads(report.read_text())["install"]:
        meta = item["metadata"]
        resolved[canonical(meta["name"])] = (meta["name"], meta["version"])
    return resolved


@dataclass
class Change:
    name: str
    pinned: str | None  # None: not in requirements.txt
    newest: str | None  # None: no longer needed
    top: bool


def compare(pins: dict[str, str], resolved: dict[str, tuple[str, str]], top: set[str]) -> list[Change]:
    changes = []
    for key in sorted(set(pins) | set(resolved)):
        pinned, newest = pins.get(key), resolved.get(key, (None, None))[1]
        if pinned != newest:
            changes.append(Change(resolved.get(key, (key,))[0], pinned, newest, key in top))
    return sorted(changes, key=lambda c: (not c.top, canonical(c.name)))


@dataclass
class Failure:
    test: str
    kind: str  # failure | error
    message: str


def junit_results(path: Path) -> tuple[dict[str, int], list[Failure]]:
    """Counts (tests, failures, errors, skipped) and each failing test with the first line of its message."""
    root = ET.parse(path).getroot()
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    failures = []
    for suite in root.iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, 0))
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            for node in case.findall(kind):
                name = case.get("classname", "").replace(".", "/") + "::" + case.get("name", "")
                text = (node.get("message") or node.text or "").strip().splitlines()
                failures.append(Failure(name, kind, text[0][:200] if text else ""))
    return counts, failures


def workflow_files(root: Path) -> list[Path]:
    """Every *.yml / *.yaml in a ``.github/workflows`` folder under ``root`` (environments and build output skipped)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED and not d.startswith(".venv"))
        here = Path(folder)
        if here.name == "workflows" and here.parent.name == ".github":
            found += [here / f for f in sorted(files) if f.endswith((".yml", ".yaml"))]
    return found


def actions_used(text: str) -> set[str]:
    """``owner/name[/path]@ref`` of every remote action a workflow's text uses (not ``./local`` nor ``docker://``)."""
    found = set()
    for match in re.finditer(r"^\s*(?:-\s*)?uses:\s*['\"]?([^\s'\"#]+)", text, re.MULTILINE):
        ref = match.group(1)
        if not ref.startswith(("./", "docker://")) and "@" in ref and ref.count("/") >= 1:
            found.add(ref)
    return found


def runs_using(action_yml: str) -> str | None:
    """The ``runs.using`` of an action.yml (``node24``, ``composite``, ``docker`` ...), or None when it has none.

    Read without a YAML library (the scheduled job runs on a bare Python): the ``using:`` key indented
    under the top-level ``runs:`` mapping.
    """
    in_runs = False
    for line in action_yml.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            in_runs = line.split("#", 1)[0].rstrip() == "runs:"
            continue
        match = re.match(r"\s+using:\s*['\"]?([\w.-]+)", line)
        if in_runs and match:
            return match.group(1)
    return None


def node_major(using: str | None) -> int | None:
    """24 for ``node24``; None for composite, docker or an unknown runtime."""
    match = re.fullmatch(r"node(\d+)", (using or "").strip().lower())
    return int(match.group(1)) if match else None


def read_action_yml(action: str, source: Path | None, timeout: float = 20) -> str | None:
    """The action.yml (or action.yaml) of ``owner/name[/path]@ref``: from ``source/owner/name[/path]/ref/``
    when given, else online from GitHub. None when there is none (or the network said no)."""
    name, ref = action.split("@", 1)
    parts = name.split("/")
    base = f"https://raw.githubusercontent.com/{'/'.join(parts[:2])}/{ref}/" + "".join(p + "/" for p in parts[2:])
    for file in ("action.yml", "action.yaml"):
        if source is not None:
            local = source / name / ref / file
            if local.is_file():
                return local.read_text()
            continue
        try:
            with urllib.request.urlopen(base + file, timeout=timeout) as response:
                return response.read().decode()
        except (urllib.error.URLError, TimeoutError, OSError):
            continue
    return None


@dataclass
class ActionRuntime:
    action: str
    using: str | None  # None: its action.yml could not be read
    files: list[str]

    @property
    def outdated(self) -> bool:
        major = node_major(self.using)
        return major is not None and major < NODE_CURRENT


def check_actions(root: Path, source: Path | None) -> list[ActionRuntime]:
    """Each action the workflows under ``root`` use, with its runtime (read once per ``owner/name@ref``)."""
    where: dict[str, list[str]] = {}
    for workflow in workflow_files(root):
        for action in actions_used(workflow.read_text()):
            where.setdefault(action, []).append(workflow.relative_to(root).as_posix())
    runtimes = []
    for action in sorted(where):
        text = read_action_yml(action, source)
        runtimes.append(ActionRuntime(action, runs_using(text) if text is not None else None, where[action]))
    return runtimes


def actions_summary(runtimes: list[ActionRuntime]) -> str:
    old = [r for r in runtimes if r.outdated]
    unread = [r for r in runtimes if r.using is None]
    lines = ["## GitHub Actions runtimes", "",
             f"{len(runtimes)} actions used by the workflows; {len(old)} on a Node older than node{NODE_CURRENT}"
             + (f", {len(unread)} whose action.yml could not be read" if unread else "") + ".", ""]
    if runtimes:
        lines += ["| action | runs.using | | used in |", "| --- | --- | --- | --- |"]
        lines += [f"| `{r.action}` | {r.using or '(not read)'} | "
                  f"{'**older than node%d: move to a newer major**' % NODE_CURRENT if r.outdated else ''} | "
                  f"{', '.join(r.files)} |" for r in runtimes]
    return "\n".join(lines) + "\n"


def summary(changes: list[Change], resolved_count: int, suite: tuple[dict[str, int], list[Failure]] | None,
            suite_rc: int | None) -> str:
    lines = ["# The course on the newest releases", "",
             f"requirements.in resolves to {resolved_count} packages; {len(changes)} differ from requirements.txt "
             "(which this run does not change).", ""]
    if changes:
        lines += ["| package | pinned | newest | |", "| --- | --- | --- | --- |"]
        lines += [f"| {c.name} | {c.pinned or '-'} | {c.newest or '(no longer needed)'} | "
                  f"{'requirements.in' if c.top else ''} |" for c in changes]
        lines.append("")
    if suite is None and suite_rc is None:
        lines.append("Dry run: nothing installed or run.")
        return "\n".join(lines) + "\n"
    if suite is None:
        lines.append(f"**The suite did not run to its end** (exit code {suite_rc}, no JUnit report): see the log.")
        return "\n".join(lines) + "\n"
    counts, failures = suite
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    book = [f for f in failures if f.test.startswith(BOOK_TESTS.removesuffix(".py"))]
    lines += ["## The suite on them", "",
              f"{passed} passed, {counts['failures']} failed, {counts['errors']} errors, {counts['skipped']} skipped "
              f"(pytest exit code {suite_rc}).", "",
              f"Book build ({BOOK_TESTS}): {'broken' if book else 'ok'}.", ""]
    if failures:
        lines += ["| test | | first line |", "| --- | --- | --- |"]
        lines += [f"| `{f.test}` | {f.kind} | {f.message.replace('|', '/')} |" for f in failures]
    else:
        lines.append("Nothing broke: the pins can move up (`make lock`).")
    return "\n".join(lines) + "\n"


def publish(text: str, out: Path) -> None:
    (out / "summary.md").write_text(text)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a") as handle:
            handle.write(text)
    print(text)


def run_suite(out: Path, offline: bool) -> tuple[tuple[dict[str, int], list[Failure]] | None, int]:
    venv = out / "venv"
    env = {**os.environ, "VENV": str(venv), "REQUIREMENTS": str(out / "requirements-newest.txt")}
    subprocess.run([str(REPO / "scripts" / "setup.sh")], env=env, check=True)
    junit = out / "junit.xml"
    junit.unlink(missing_ok=True)
    command = [str(venv / "bin" / "python"), "-m", "pytest", f"--junitxml={junit}", "-p", "no:cacheprovider"]
    if offline:
        command = [str(REPO / "scripts" / "offline.sh"), *command]
    rc = subprocess.run(command, cwd=REPO).returncode
    return (junit_results(junit) if junit.exists() else None), rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="only resolve and compare; install and run nothing")
    parser.add_argument("--out", type=Path, default=REPO / "_build" / "newest", help="working folder")
    parser.add_argument("--requirements-in", type=Path, default=REPO / "requirements.in")
    parser.add_argument("--pins", type=Path, default=REPO / "requirements.txt")
    parser.add_argument("--offline", action="store_true", help="run the suite with no network (scripts/offline.sh)")
    parser.add_argument("--workflows-root", type=Path, default=REPO,
                        help="where to look for .github/workflows folders (default: the repository)")
    parser.add_argument("--actions-from", type=Path, default=None,
                        help="read action.yml files from DIR/owner/name/ref/ instead of GitHub (offline)")
    parser.add_argument("--pip-args", default="", help="extra arguments for pip's resolution (e.g. --no-index "
                                                       "--find-links DIR)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    resolved = resolve(args.requirements_in, out / "pip-report.json", shlex.split(args.pip_args))
    (out / "requirements-newest.txt").write_text(
        f"# The newest releases {args.requirements_in.name} allows, resolved by scripts/try_newest.py.\n"
        + "".join(f"{name}=={version}\n" for name, version in sorted(resolved.values(), key=lambda v: v[0].lower())))
    changes = compare(read_pins(args.pins), resolved, top_level(args.requirements_in))
    runtimes = check_actions(args.workflows_root.resolve(), args.actions_from)
    old_actions = any(r.outdated for r in runtimes)
    if args.dry_run:
        publish(summary(changes, len(resolved), None, None) + "\n" + actions_summary(runtimes), out)
        return 1 if old_actions else 0
    suite, rc = run_suite(out, args.offline)
    publish(summary(changes, len(resolved), suite, rc) + "\n" + actions_summary(runtimes), out)
    return 0 if rc == 0 and not old_actions else 1


if __name__ == "__main__":
    sys.exit(main())

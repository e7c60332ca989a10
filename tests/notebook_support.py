"""Shared by the notebook tests of Modules 2, 4 and 5 (kept in one file per module so that pytest-xdist
spreads them over the workers): run a lab in its OPSLAB_HOME, twice in a row where the lab keeps state
from one run to the next, and find the processes it left behind."""

from __future__ import annotations

from pathlib import Path

from opslab.run import execute_notebook


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the live processes that mention ``text`` (e.g. a lab's home), read from /proc."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def run_in_one_home(notebook: Path, tmp_path: Path, monkeypatch, timeout: int, runs: int) -> Path:
    """Execute ``notebook`` ``runs`` times in a row with one OPSLAB_HOME; every run must pass, the lab must
    work in its own folder, and (on Linux) no process it started may outlive it. Returns the lab's folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("OPSLAB_HOME", str(home))
    for attempt in range(1, runs + 1):
        result = execute_notebook(notebook, tmp_path / f"executed-{attempt}", timeout=timeout)
        assert result.status == "ok", f"{notebook.name}, run {attempt}: {result.error}"
    assert (home / notebook.stem).is_dir(), "the lab should work in its own folder under OPSLAB_HOME"
    if Path("/proc").is_dir():
        assert processes_mentioning(str(home)) == [], "a server started by the lab is still running"
    return home / notebook.stem

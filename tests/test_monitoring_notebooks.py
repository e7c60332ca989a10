"""Labs 5.2, 5.3 and 5.4: each runs to the end twice in a row in the same home, and leaves no Prometheus,
Alertmanager, webhook receiver or lab server behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from opslab.run import execute_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = [REPO / "solutions" / f"{name}.ipynb" for name in ("m5_prometheus", "m5_alerts", "m5_feedback_loop")]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_lab_runs_twice_in_the_same_home_and_stops_its_servers(notebook, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("OPSLAB_HOME", str(home))
    for attempt in (1, 2):
        result = execute_notebook(notebook, tmp_path / f"executed-{attempt}", timeout=600)
        assert result.status == "ok", f"{notebook.name}, run {attempt}: {result.error}"
    assert any((home / notebook.stem).rglob("prometheus/prometheus.yml")), "Prometheus ran in the lab's folder"
    if Path("/proc").is_dir():
        assert _processes_mentioning(str(home)) == [], "a server started by the lab is still running"

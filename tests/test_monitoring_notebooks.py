"""Labs 5.2, 5.3 and 5.4: each runs to the end twice in a row in the same home, and leaves no Prometheus,
Alertmanager, webhook receiver or lab server behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebook_support import run_twice_in_one_home

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = [REPO / "solutions" / f"{name}.ipynb" for name in ("m5_prometheus", "m5_alerts", "m5_feedback_loop")]


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_lab_runs_twice_in_the_same_home_and_stops_its_servers(notebook, tmp_path, monkeypatch):
    lab = run_twice_in_one_home(notebook, tmp_path, monkeypatch, timeout=600)
    assert any(lab.rglob("prometheus/prometheus.yml")), "Prometheus ran in the lab's folder"

"""Labs 5.2, 5.3, 5.4 and the capstone run to the end in the lab's home and leave no Prometheus,
Alertmanager, webhook receiver or lab server behind. Lab 5.4 and the capstone keep state from run to
run (their registry versions and aliases) and run twice in a row; labs 5.2 and 5.3 delete their
folders as they start, so a second run would repeat the first (their grading, in
test_grade_labs_m5.py, is a run of its own)."""

from __future__ import annotations

import pytest

from conftest import REPO
from notebook_support import run_in_one_home

RUNS = {"m5_prometheus": 1, "m5_alerts": 1, "m5_feedback_loop": 2, "m6_capstone": 2}


@pytest.mark.notebooks
@pytest.mark.parametrize("name", RUNS)
def test_lab_runs_in_its_home_and_stops_its_servers(name, tmp_path, monkeypatch):
    lab = run_in_one_home(REPO / "solutions" / f"{name}.ipynb", tmp_path, monkeypatch, timeout=600, runs=RUNS[name])
    assert any(lab.rglob("prometheus/prometheus.yml")), "Prometheus ran in the lab's folder"

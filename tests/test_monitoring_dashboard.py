"""The Grafana dashboard and provisioning files: a valid structure, and every query parses in a real Prometheus."""

from __future__ import annotations

import re

import pytest
import yaml

from opslab.monitoring import PrometheusServer, rule_file
from opslab.monitoring.dashboard import dashboard, panels, write_grafana_provisioning


def test_panels_have_unique_ids_and_fit_the_grid_without_overlapping():
    board = dashboard()
    assert board["uid"] == "opslab-monitoring" and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) == len(board["panels"]) >= 8
    cells = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        xs, ys = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        mine = {(x, y) for x in xs for y in ys}
        assert not mine & cells, f"panel {panel['title']!r} overlaps another"
        cells |= mine
        assert panel["targets"] and all(t["expr"].strip() and t["refId"] for t in panel["targets"]), panel["title"]


def test_every_panel_uses_the_provisioned_data_source(tmp_path):
    provisioning = write_grafana_provisioning(tmp_path, "http://127.0.0.1:9999")
    source = yaml.safe_load((provisioning / "datasources" / "opslab.yml").read_text())["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://127.0.0.1:9999"
    for panel in dashboard()["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])
    provider = yaml.safe_load((provisioning / "dashboards" / "opslab.yml").read_text())["providers"][0]
    assert (tmp_path / "dashboards" / "opslab.json").read_text() and provider["options"]["path"] == str(
        tmp_path / "dashboards")


def test_the_panels_cover_the_courses_slis_and_use_only_recorded_names():
    exprs = " ".join(q for p in panels() for q, _ in p["queries"])
    recorded = set(re.findall(r"record: (\S+)", rule_file("recording.yml")))
    used = set(re.findall(r"\bopslab:[a-z0-9_:]+", exprs))
    assert used <= recorded, used - recorded
    for sli in ("requests:rate5m", "request_errors", "p99_5m", "p50_5m", "feature_psi", "input_nulls",
                "predictions:rate5m", "feedback_auc"):
        assert sli in exprs, f"no panel shows {sli}"


@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory):
    with PrometheusServer(tmp_path_factory.mktemp("prom")) as prom:
        yield prom


@pytest.mark.parametrize("expr", [q for p in panels() for q, _ in p["queries"]])
def test_every_query_parses_in_a_real_prometheus(empty_prometheus, expr):
    empty_prometheus.query(expr)  # a PromQL error raises QueryError with Prometheus' message

"""The course's Grafana dashboard (package data), its panels for notebooks, and Grafana provisioning files."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


def _grafana_file(name: str) -> str:
    return (resources.files("opslab.monitoring") / "files" / "grafana" / name).read_text()


def dashboard() -> dict:
    """The dashboard model (Grafana JSON): panels of traffic, errors, latency, predictions, drift,
    data quality, model quality and firing alerts, all on the data source uid ``opslab-prometheus``."""
    return json.loads(_grafana_file("opslab-dashboard.json"))


def panels() -> list[dict]:
    """Each panel as ``{"title", "unit", "queries": [(expr, legend)], "thresholds": [values]}``: the same
    panels a notebook draws from Prometheus' ``query_range``."""
    found = []
    for panel in dashboard()["panels"]:
        steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
        found.append({"title": panel["title"], "type": panel["type"], "unit": panel["fieldConfig"]["defaults"]["unit"],
                      "queries": [(t["expr"], t.get("legendFormat", "")) for t in panel["targets"]],
                      "thresholds": [s["value"] for s in steps if s["value"] is not None]})
    return found


def write_grafana_provisioning(folder: str | Path, prometheus_url: str = "http://127.0.0.1:9090") -> Path:
    """Write ``provisioning/`` (data source + dashboard provider) and ``dashboards/opslab.json`` under
    ``folder``; start Grafana with ``paths.provisioning`` set to the returned folder."""
    folder = Path(folder).resolve()
    provisioning, boards = folder / "provisioning", folder / "dashboards"
    for sub in (provisioning / "datasources", provisioning / "dashboards", boards):
        sub.mkdir(parents=True, exist_ok=True)
    (provisioning / "datasources" / "opslab.yml").write_text(
        _grafana_file("datasource.yml").replace("PROMETHEUS_URL", prometheus_url))
    (provisioning / "dashboards" / "opslab.yml").write_text(
        _grafana_file("dashboards.yml").replace("DASHBOARDS_PATH", str(boards)))
    (boards / "opslab.json").write_text(_grafana_file("opslab-dashboard.json"))
    return provisioning

"""Write deploy/monitoring/: the compose stack's Prometheus, Alertmanager and Grafana configs, rendered by
the same opslab functions the Module 5 labs use, for the containers' hostnames.

    PYTHONPATH=src python scripts/render_deploy_configs.py [--out deploy/monitoring]

The rule files and the dashboard JSON are not copied: deploy/compose.yaml mounts them from
src/opslab/monitoring/files/. tests/test_deploy_docker.py checks the committed files equal a fresh render.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from opslab.monitoring.alertmanager import course_config
from opslab.monitoring.dashboard import write_grafana_provisioning
from opslab.monitoring.prometheus import prometheus_config

REPO = Path(__file__).resolve().parents[1]
HEADER = "# Written by scripts/render_deploy_configs.py for deploy/compose.yaml: do not edit, re-run it.\n"

# the compose services' names and ports, and where compose.yaml mounts the rule files and dashboards
LAB_SERVER = "http://lab-server:8000"
ALERTMANAGER = "http://alertmanager:9093"
PROMETHEUS = "http://prometheus:9090"
WEBHOOK = "http://webhook:9095/alerts"
RULES_IN_CONTAINER = ["/etc/prometheus/rules/recording.yml", "/etc/prometheus/rules/alerts.yml"]
DASHBOARDS_IN_CONTAINER = "/var/lib/grafana/dashboards"


def render() -> dict[str, str]:
    """Each file of deploy/monitoring/ (relative path -> text)."""
    files = {
        "prometheus.yml": yaml.safe_dump(prometheus_config([LAB_SERVER], RULES_IN_CONTAINER, ALERTMANAGER),
                                         sort_keys=False),
        "alertmanager.yml": yaml.safe_dump(course_config(WEBHOOK), sort_keys=False),
    }
    with tempfile.TemporaryDirectory() as tmp:
        provisioning = write_grafana_provisioning(tmp, prometheus_url=PROMETHEUS)
        boards = str(Path(tmp).resolve() / "dashboards")
        for sub in ("datasources", "dashboards"):
            text = (provisioning / sub / "opslab.yml").read_text()
            files[f"grafana/{sub}/opslab.yml"] = text.replace(boards, DASHBOARDS_IN_CONTAINER)
    return {name: HEADER + text for name, text in files.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "deploy" / "monitoring"))
    out = Path(parser.parse_args().out)
    for name, text in render().items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
        print(out / name)


if __name__ == "__main__":
    main()

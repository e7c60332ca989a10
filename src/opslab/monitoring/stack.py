"""The whole chain at once: webhook receiver <- Alertmanager <- Prometheus (scraping lab servers)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from opslab.monitoring.alertmanager import AlertmanagerServer, course_config
from opslab.monitoring.prometheus import PrometheusServer
from opslab.monitoring.rules import write_rules
from opslab.monitoring.webhook import WebhookReceiver


class MonitoringStack:
    """Prometheus scraping ``targets`` with the course's rules, alerting a real Alertmanager that
    notifies a :class:`WebhookReceiver`; everything under ``folder``, stopped together.

    ``speedup=60`` runs the rules on a compressed clock (5m windows become 5 s) with 1 s scrapes and
    1 s Alertmanager grouping, for tests and benchmarks; ``speedup=None`` is the realistic set-up.
    Attributes after :meth:`start`: ``prometheus``, ``alertmanager``, ``webhook``.
    """

    def __init__(self, folder: str | Path, targets: list[str], speedup: float | None = None,
                 prometheus_port: int | None = None, alertmanager_port: int | None = None,
                 webhook_port: int | None = None):
        self.folder = Path(folder).resolve()
        self.targets, self.speedup = list(targets), speedup
        self.ports = prometheus_port, alertmanager_port, webhook_port
        self._stack = ExitStack()
        self.prometheus = self.alertmanager = self.webhook = None

    def start(self) -> MonitoringStack:
        fast = bool(self.speedup)
        prometheus_port, alertmanager_port, webhook_port = self.ports
        rules = write_rules(self.folder / "rules", names=("recording.yml", "alerts.yml"), compress=self.speedup)
        try:
            self.webhook = self._stack.enter_context(WebhookReceiver(self.folder / "webhook", port=webhook_port))
            timing = ("1s", "1s", "1h") if fast else ("30s", "5m", "4h")
            self.alertmanager = self._stack.enter_context(AlertmanagerServer(
                self.folder / "alertmanager", course_config(self.webhook.url, *timing), port=alertmanager_port))
            self.prometheus = self._stack.enter_context(PrometheusServer(
                self.folder / "prometheus", self.targets, rules, self.alertmanager.url,
                scrape_interval="1s" if fast else "15s", port=prometheus_port))
        except BaseException:
            self._stack.close()
            raise
        return self

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> MonitoringStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""The webhook receiver as a child process, and what it received (Alertmanager's notifications)."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

from opslab.background import PortServer


class WebhookReceiver(PortServer):
    """A local HTTP endpoint that records every notification POSTed to it (in ``folder/received.jsonl``).

    Point Alertmanager's ``webhook_configs`` at :attr:`url`; :meth:`received` returns the
    notifications so far, :meth:`alerts` one row per alert in them, :meth:`wait_for` polls.
    """

    name = "webhook receiver"

    def __init__(self, folder: str | Path = "webhook", port: int | None = None, host: str = "127.0.0.1",
                 timeout: float = 30):
        self.folder = Path(folder).resolve()
        self.host, self.port = host, port
        super().__init__([], "", timeout, name="webhook receiver")

    @property
    def url(self) -> str:
        """Where to POST notifications (Alertmanager: ``webhook_configs: [{url: ...}]``)."""
        return f"http://{self.host}:{self.port}/alerts"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def file(self) -> Path:
        return self.folder / "received.jsonl"

    def prepare(self) -> tuple[list[str], str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file.write_text("")  # a new receiver starts with nothing received
        self.log_path = self.folder / "receiver.log"
        script = Path(__file__).with_name("webhook_server.py")  # standard library only: -S starts it fast
        return [sys.executable, "-S", str(script), "--host", self.host, "--port", str(self.port),
                "--out", str(self.file)], f"{self.base_url}/ready"

    def received(self) -> list[dict]:
        """Every notification so far, oldest first: ``{"received_at", "path", "body"}`` (body: Alertmanager's JSON)."""
        with urllib.request.urlopen(f"{self.base_url}/received", timeout=10) as response:  # noqa: S310 - http://
            return json.load(response)

    def alerts(self) -> list[dict]:
        """One row per alert in every notification: alertname, status, labels, annotations, receiver, when."""
        rows = []
        for note in self.received():
            body = note["body"]
            for alert in body.get("alerts", []):
                rows.append({"alertname": alert["labels"].get("alertname"), "status": alert.get("status"),
                             "labels": alert["labels"], "annotations": alert.get("annotations", {}),
                             "receiver": body.get("receiver"), "received_at": note["received_at"],
                             "starts_at": alert.get("startsAt"), "ends_at": alert.get("endsAt")})
        return rows

    def wait_for(self, predicate, timeout: float = 60, poll: float = 0.25) -> list[dict]:
        """Poll :meth:`alerts` until ``predicate(alerts)`` is true; return them (TimeoutError if never)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.alerts()
            if predicate(rows):
                return rows
            if time.monotonic() > deadline:
                raise TimeoutError(f"the webhook did not receive what was awaited within {timeout:g} s; "
                                   f"it received {[(r['alertname'], r['status']) for r in rows]}")
            time.sleep(poll)

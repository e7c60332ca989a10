"""A real Alertmanager (the Debian package's binary) on a free loopback port, and its API v2 (alerts, silences)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from opslab.background import PortServer
from opslab.monitoring.binaries import binary


class ConfigError(ValueError):
    """amtool refused an Alertmanager config; the message quotes what it said."""


def course_config(webhook_url: str, group_wait: str = "30s", group_interval: str = "5m",
                  repeat_interval: str = "4h") -> dict:
    """The course's Alertmanager config: every alert to the webhook, grouped by alert name, resolved
    notices on, and two inhibitions (a down target mutes everything else from it; major drift of a
    feature mutes moderate drift of the same feature)."""
    return {
        "route": {"receiver": "webhook", "group_by": ["alertname"], "group_wait": group_wait,
                  "group_interval": group_interval, "repeat_interval": repeat_interval},
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
        "inhibit_rules": [
            {"source_matchers": ["alertname = OpslabTargetDown"], "target_matchers": ["alertname != OpslabTargetDown"],
             "equal": ["instance"]},
            {"source_matchers": ["alertname = OpslabFeatureDriftMajor"],
             "target_matchers": ["alertname = OpslabFeatureDriftModerate"], "equal": ["feature"]},
        ],
    }


def check_config(path: str | Path) -> str:
    """``amtool check-config``: its summary, or :class:`ConfigError` quoting its complaint."""
    done = subprocess.run([binary("amtool"), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise ConfigError(f"amtool check-config refused {path}:\n{output}")
    return output


class AlertmanagerServer(PortServer):
    """``prometheus-alertmanager`` with ``config`` (a dict, or YAML text) and its state in ``folder``.

    Runs without clustering (``--cluster.listen-address=``), checks the config with ``amtool``
    first (:class:`ConfigError`), names the Debian package when the binary is missing, and refuses a
    taken port. :meth:`alerts`, :meth:`silence` and :meth:`expire` speak its API v2.
    """

    name = "Alertmanager"

    def __init__(self, folder: str | Path = "alertmanager", config: dict | str | None = None,
                 port: int | None = None, host: str = "127.0.0.1", timeout: float = 60):
        if config is None:
            raise ValueError("an Alertmanager needs a config: e.g. course_config(webhook.url)")
        self.folder = Path(folder).resolve()
        self.host, self.port = host, port
        self.config = config
        super().__init__([], "", timeout, env={"GOMAXPROCS": "2"}, name="Alertmanager")

    @property
    def config_path(self) -> Path:
        return self.folder / "alertmanager.yml"

    def write_config(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        text = self.config if isinstance(self.config, str) else json.dumps(self.config, indent=2)
        self.config_path.write_text(text)
        return self.config_path

    def prepare(self) -> tuple[list[str], str]:
        executable = binary("prometheus-alertmanager")
        check_config(self.write_config())
        self.log_path = self.folder / "alertmanager.log"
        return [
            executable,
            f"--config.file={self.config_path}",
            f"--storage.path={self.folder / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--cluster.listen-address=",  # one instance, no gossip port
        ], f"{self.url}/-/ready"

    def _call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/v2/{path}", data=data, method=method,  # noqa: S310 - http on loopback
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise ValueError(f"Alertmanager refused {method} /api/v2/{path}: {err.read().decode(errors='replace')}") \
                from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ValueError(f"Alertmanager answered {method} /api/v2/{path} with something that is not JSON: "
                             f"{raw[:200].decode(errors='replace')}") from None

    def alerts(self) -> list[dict]:
        """The alerts Alertmanager holds now, each with ``status.state`` (active, suppressed) and
        ``status.silencedBy`` / ``status.inhibitedBy``."""
        return self._call("GET", "alerts")

    def silence(self, matchers: dict[str, str], minutes: float = 60, comment: str = "silenced from a lab",
                created_by: str = "opslab") -> str:
        """Silence alerts whose labels equal ``matchers`` for ``minutes``; return the silence id."""
        now = dt.datetime.now(dt.timezone.utc)
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(minutes=minutes)).isoformat(),
            "createdBy": created_by, "comment": comment,
        }
        return self._call("POST", "silences", body)["silenceID"]

    def expire(self, silence_id: str) -> None:
        """End a silence now."""
        self._call("DELETE", f"silence/{silence_id}")

    def silences(self) -> list[dict]:
        return self._call("GET", "silences")

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.poll() is None else "stopped"
        return f"AlertmanagerServer({self.url if self.port else 'no port'}, {state}, folder={self.folder})"

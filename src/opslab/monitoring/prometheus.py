"""A real Prometheus (the Debian package's binary) on a free loopback port, and its HTTP query API."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from opslab.background import PortServer, ServerError
from opslab.monitoring.binaries import binary
from opslab.monitoring.rules import check_rules


def _hostport(url: str) -> str:
    parsed = urllib.parse.urlsplit(url if "//" in url else f"http://{url}")
    return parsed.netloc


def prometheus_config(targets: list[str], rule_files: list[str | Path] = (), alertmanager_url: str | None = None,
                      scrape_interval: str = "15s", evaluation_interval: str = "15s", job: str = "opslab") -> dict:
    """The ``prometheus.yml`` of a course stack: one scrape job over ``targets`` (URLs of lab servers,
    scraped at ``/metrics``), the rule files, and where to send alerts."""
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval,
                   "scrape_timeout": min(scrape_interval, "10s", key=_seconds)},
        "scrape_configs": [{"job_name": job, "metrics_path": "/metrics",
                            "static_configs": [{"targets": [_hostport(t) for t in targets]}]}],
        "rule_files": [str(Path(p).resolve()) for p in rule_files],
    }
    if alertmanager_url:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [_hostport(alertmanager_url)]}]}]}
    return config


def _seconds(duration: str) -> float:
    from opslab.monitoring.rules import duration_ms

    return duration_ms(duration) / 1000


class PrometheusServer(PortServer):
    """``prometheus`` scraping ``targets``, with its config and TSDB in ``folder``.

    ::

        with PrometheusServer("prometheus", targets=[lab.url], rule_files=["rules.yml"],
                              scrape_interval="1s") as prom:
            prom.query("up")

    Rule files are checked with ``promtool`` first (a syntax error raises :class:`RuleError` quoting
    promtool); a missing binary raises :class:`MissingBinary` naming the Debian package; a port that
    is taken raises :class:`ServerError`. The process always stops with the context.
    """

    name = "Prometheus"

    def __init__(self, folder: str | Path = "prometheus", targets: list[str] = (), rule_files: list = (),
                 alertmanager_url: str | None = None, scrape_interval: str = "15s",
                 evaluation_interval: str | None = None, port: int | None = None, host: str = "127.0.0.1",
                 retention: str = "1d", timeout: float = 60):
        self.folder = Path(folder).resolve()
        self.host, self.port = host, port
        self.config = prometheus_config(list(targets), list(rule_files), alertmanager_url, scrape_interval,
                                        evaluation_interval or scrape_interval)
        self.retention = retention
        super().__init__([], "", timeout, env={"GOMAXPROCS": "2"}, log_path=None, name="Prometheus")

    @property
    def config_path(self) -> Path:
        return self.folder / "prometheus.yml"

    def prepare(self) -> tuple[list[str], str]:
        executable = binary("prometheus")
        if self.config["rule_files"]:
            check_rules(*self.config["rule_files"])
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config, indent=2))  # JSON is YAML
        self.log_path = self.folder / "prometheus.log"
        return [
            executable,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.folder / 'data'}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={self.host}:{self.port}",
            # no --web.enable-lifecycle: on a shared host (JupyterHub, Binder) any local user could stop it
            # through /-/quit; reload() sends SIGHUP to its own child instead
        ], f"{self.url}/-/ready"

    def use_rules(self, *rule_files: str | Path) -> None:
        """Evaluate these rule files from now on (checked with promtool first), without a restart."""
        paths = [str(Path(p).resolve()) for p in rule_files]
        if paths:
            check_rules(*paths)
        self.config["rule_files"] = paths
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.reload()

    def reload(self, timeout: float = 30) -> None:
        """Re-read the config file and rule files (after editing them): SIGHUP to the server, then wait until
        it reports a successful reload newer than the last one (ServerError if it reports a failed one)."""
        if self.config["rule_files"]:
            check_rules(*self.config["rule_files"])
        if self.process is None or self.process.poll() is not None:
            raise ServerError(f"{self.name} is not running: start it before reloading")
        before = self._reload_state()[1]
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok, stamp = self._reload_state()
            if stamp is not None and stamp != before:
                if not ok:
                    raise ServerError(f"{self.name} could not reload its configuration:\n{self.output()}")
                return
            time.sleep(0.1)
        raise ServerError(f"{self.name} did not reload within {timeout:g} s:\n{self.output()}")

    def _reload_state(self) -> tuple[bool, float | None]:
        """(last reload successful, its timestamp) from the server's own /metrics."""
        found = {}
        try:
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:  # noqa: S310 - its own server
                for line in response.read().decode(errors="replace").splitlines():
                    name, _, value = line.partition(" ")
                    if name in ("prometheus_config_last_reload_successful",
                                "prometheus_config_last_reload_success_timestamp_seconds"):
                        found[name] = float(value)
        except (OSError, ValueError):
            return False, None
        return (found.get("prometheus_config_last_reload_successful") == 1,
                found.get("prometheus_config_last_reload_success_timestamp_seconds"))

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        return query(self.url, promql, at)

    def query_range(self, promql: str, start: float, end: float | None = None, step: float = 1.0):
        return query_range(self.url, promql, start, end, step)

    def wait_for(self, promql: str, timeout: float = 60, poll: float = 0.5) -> list[dict]:
        """Poll ``promql`` until it returns at least one series; return them (TimeoutError if never)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"`{promql}` returned nothing within {timeout:g} s")
            time.sleep(poll)

    def targets(self) -> list[dict]:
        """The scrape targets and their health (``up``/``down``) and last error."""
        return _api(self.url, "targets")["activeTargets"]

    def alerts(self) -> list[dict]:
        """The alerts Prometheus evaluates right now (state ``pending`` or ``firing``)."""
        return _api(self.url, "alerts")["alerts"]

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.poll() is None else "stopped"
        return f"PrometheusServer({self.url if self.port else 'no port'}, {state}, folder={self.folder})"


class QueryError(ValueError):
    """Prometheus refused a query (its message says why, e.g. a PromQL parse error)."""


def _api(url: str, path: str, params: dict | None = None) -> dict:
    full = f"{url.rstrip('/')}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with urllib.request.urlopen(full, timeout=30) as response:  # noqa: S310 - a Prometheus URL
            body = json.load(response)
    except urllib.error.HTTPError as err:  # 400/422: a bad query; the body says what is wrong
        raw = err.read()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:  # a proxy's or a crashed server's page: say what came back
            body = {"error": f"HTTP {err.code}: {raw[:200].decode(errors='replace')}"}
        raise QueryError(f"Prometheus refused {params or path}: {body.get('error', err)}") from None
    except ValueError as err:  # a 200 whose body is not JSON: not a Prometheus answering
        raise QueryError(f"Prometheus answered {path} with something that is not JSON ({err})") from None
    if body.get("status") != "success":
        raise QueryError(f"Prometheus refused {params or path}: {body.get('error')}")
    return body["data"]


def query(url: str, promql: str, at: float | None = None) -> list[dict]:
    """An instant query: a list of ``{"metric": {labels}, "value": float, "time": float}`` (vector
    results; ``time`` is the evaluation time, a Unix timestamp)."""
    params = {"query": promql}
    if at is not None:
        params["time"] = at
    data = _api(url, "query", params)
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": float(data["result"][1]), "time": float(data["result"][0])}]
    return [{"metric": r["metric"], "value": float(r["value"][1]), "time": float(r["value"][0])}
            for r in data["result"]]


def query_range(url: str, promql: str, start: float, end: float | None = None, step: float = 1.0):
    """A range query as a tidy DataFrame: columns ``time`` (datetime, UTC), ``value``, and one per label.

    One row per series and step, ready for a line plot per series (``df.groupby(label)``).
    """
    import pandas as pd

    end = time.time() if end is None else end
    data = _api(url, "query_range", {"query": promql, "start": start, "end": end, "step": step})
    rows = [{**series["metric"], "time": float(t), "value": float(v)}
            for series in data["result"] for t, v in series["values"]]
    frame = pd.DataFrame(rows, columns=sorted({k for r in rows for k in r} | {"time", "value"}))
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame

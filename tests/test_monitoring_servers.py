"""Prometheus, Alertmanager and the webhook receiver as processes: they start, answer, refuse bad
input with a clear error, and never leave a process behind."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from opslab.background import ServerError, group_members
from opslab.monitoring import (
    AlertmanagerServer,
    ConfigError,
    MissingBinary,
    MonitoringStack,
    PrometheusServer,
    QueryError,
    RuleError,
    WebhookReceiver,
    course_config,
)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the live processes that mention ``text`` (e.g. a stack's folder), read from /proc."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def claims_a_huge_body(url: str) -> int:
    """POST a request whose Content-Length says 100 MB (sending two bytes): the status it gets."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("POST", parts.path or "/")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(100 * 2**20))
        connection.endheaders(b"{}")
        return connection.getresponse().status
    finally:
        connection.close()


def gone(server) -> bool:
    return server.process is None


def test_prometheus_starts_answers_queries_and_stops_with_nothing_left(tmp_path):
    with PrometheusServer(tmp_path / "prom", scrape_interval="1s") as prom:
        pid = prom.process.pid
        assert prom.query("1 + 1", at=1000) == [{"metric": {}, "value": 2.0, "time": 1000.0}]
        assert (tmp_path / "prom" / "prometheus.yml").is_file()
        with pytest.raises(QueryError, match="parse error"):
            prom.query("sum(rate(x[5m])")
    assert group_members(pid) == [] and gone(prom)


def test_prometheus_reloads_by_signal_and_offers_no_lifecycle_api(tmp_path):
    """Nobody else on the host can stop or reload it through HTTP; its owner reloads it with SIGHUP."""
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: t\n    rules:\n      - record: judge:one\n        expr: vector(1)\n")
    with PrometheusServer(tmp_path / "prom", scrape_interval="1s") as prom:
        assert post(f"{prom.url}/-/quit", b"") == 403 and post(f"{prom.url}/-/reload", b"") == 403
        prom.use_rules(rules)  # SIGHUP, then waits for the new reload to be reported
        assert prom.wait_for("judge:one", timeout=30)[0]["value"] == 1.0


def test_an_answer_that_is_not_json_is_the_modules_own_error(tmp_path):
    import http.server
    import threading

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(502 if "query" in self.path else 200)
            self.end_headers()
            self.wfile.write(b"<html>bad gateway</html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from opslab.monitoring.prometheus import query

    try:
        with pytest.raises(QueryError, match="HTTP 502: <html>bad gateway"):
            query(f"http://127.0.0.1:{server.server_address[1]}", "up")
    finally:
        server.shutdown()
        server.server_close()


def test_prometheus_with_a_broken_rule_file_does_not_start(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n")
    prom = PrometheusServer(tmp_path / "prom", rule_files=[broken])
    with pytest.raises(RuleError, match="promtool check rules refused"):
        prom.start()
    assert prom.process is None


def test_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} .* already in use"):
            PrometheusServer(tmp_path / "prom", port=port).start()
        with pytest.raises(ServerError, match=f"port {port} .* already in use"):
            AlertmanagerServer(tmp_path / "am", course_config("http://127.0.0.1:9/"), port=port).start()
        with pytest.raises(ServerError, match=f"port {port} .* already in use"):
            WebhookReceiver(tmp_path / "hook", port=port).start()


@pytest.mark.parametrize("make, package", [
    (lambda d: PrometheusServer(d / "prom"), "prometheus"),
    (lambda d: AlertmanagerServer(d / "am", course_config("http://127.0.0.1:9/")), "prometheus-alertmanager"),
])
def test_a_missing_binary_names_the_debian_package(tmp_path, monkeypatch, make, package):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    server = make(tmp_path)
    with pytest.raises(MissingBinary, match=f"install the Debian package `{package}`"):
        server.start()
    assert server.process is None


def test_alertmanager_refuses_a_bad_config_quoting_amtool(tmp_path):
    config = course_config("http://127.0.0.1:9/")
    config["route"]["receiver"] = "pager"  # no receiver of that name
    with pytest.raises(ConfigError, match='undefined receiver "pager"'):
        AlertmanagerServer(tmp_path / "am", config).start()


def test_alertmanager_silences_and_inhibits_through_its_api(tmp_path):
    with WebhookReceiver(tmp_path / "hook") as hook, \
         AlertmanagerServer(tmp_path / "am", course_config(hook.url, "1s", "1s")) as am:
        pid = am.process.pid
        alerts = [{"labels": {"alertname": "OpslabFeatureDriftMajor", "feature": "age", "severity": "critical"}},
                  {"labels": {"alertname": "OpslabFeatureDriftModerate", "feature": "age", "severity": "warning"}},
                  {"labels": {"alertname": "OpslabFeatureDriftModerate", "feature": "plan", "severity": "warning"}},
                  {"labels": {"alertname": "OpslabNullInputs", "severity": "warning"}}]
        silence = am.silence({"alertname": "OpslabNullInputs"}, minutes=5, comment="known upstream issue")
        assert post(f"{am.url}/api/v2/alerts", json.dumps(alerts).encode()) == 200
        rows = hook.wait_for(lambda r: {a["alertname"] for a in r} >= {"OpslabFeatureDriftMajor",
                                                                       "OpslabFeatureDriftModerate"}, timeout=30)
        delivered = {(a["alertname"], a["labels"].get("feature")) for a in rows}
        # moderate drift of age is inhibited by major drift of age; plan's is not; nulls are silenced
        assert delivered == {("OpslabFeatureDriftMajor", "age"), ("OpslabFeatureDriftModerate", "plan")}
        states = {(a["labels"]["alertname"], a["labels"].get("feature")): a["status"] for a in am.alerts()}
        assert states[("OpslabFeatureDriftModerate", "age")]["inhibitedBy"]
        assert states[("OpslabNullInputs", None)]["silencedBy"] == [silence]
        am.expire(silence)
        assert [s["status"]["state"] for s in am.silences() if s["id"] == silence] == ["expired"]
    assert group_members(pid) == []


def test_the_webhook_records_what_it_receives_and_refuses_what_is_not_json(tmp_path):
    receiver = WebhookReceiver(tmp_path / "hook").start()
    pid = receiver.process.pid
    try:
        assert post(receiver.url, json.dumps({"receiver": "r", "alerts": [
            {"status": "firing", "labels": {"alertname": "A"}}]}).encode()) == 200
        assert post(receiver.url, b"{oops") == 400
        assert claims_a_huge_body(receiver.url) == 413  # refused from its header, before a byte is read
        assert [(a["alertname"], a["status"], a["receiver"]) for a in receiver.alerts()] == [("A", "firing", "r")]
        assert len((tmp_path / "hook" / "received.jsonl").read_text().splitlines()) == 1
    finally:
        receiver.stop()
    assert group_members(pid) == [] and gone(receiver)
    with WebhookReceiver(tmp_path / "hook") as again:  # a new receiver starts empty
        assert again.received() == []




@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_stack_that_cannot_start_stops_what_it_started(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack = MonitoringStack(tmp_path / "stack", ["127.0.0.1:9"], speedup=60, prometheus_port=taken.getsockname()[1])
        with pytest.raises(ServerError, match="cannot start Prometheus"):
            stack.start()
    assert stack.webhook.process is None and stack.alertmanager.process is None
    assert processes_mentioning(str(tmp_path / "stack")) == []

"""The course's Prometheus rules: promtool accepts them, their unit tests pass, and cover every rule."""

from __future__ import annotations

import pytest
import yaml

from opslab.monitoring import RuleError, check_rules, compress_durations, rule_file, test_rules, write_rules
from opslab.monitoring.rules import SHIPPED


@pytest.fixture
def rules(tmp_path):
    """The shipped files, copied from the installed package (never from the repository)."""
    write_rules(tmp_path)
    return tmp_path


def test_the_shipped_rules_are_valid_for_promtool(rules):
    summary = check_rules(rules / "recording.yml", rules / "alerts.yml")
    assert "SUCCESS: 10 rules found" in summary and "SUCCESS: 8 rules found" in summary, summary


@pytest.mark.parametrize("tests", ["recording_test.yml", "alerts_test.yml"])
def test_the_promtool_unit_tests_of_the_shipped_rules_pass(rules, tests):
    result = test_rules(rules / tests)
    assert result.ok, result.output
    assert "SUCCESS" in result.output


def test_every_alert_is_tested_both_firing_and_silent():
    alerts = [r["alert"] for g in yaml.safe_load(rule_file("alerts.yml"))["groups"] for r in g["rules"]]
    cases = [case for test in yaml.safe_load(rule_file("alerts_test.yml"))["tests"]
             for case in test.get("alert_rule_test", [])]
    for alert in alerts:
        mine = [c for c in cases if c["alertname"] == alert]
        assert any(c["exp_alerts"] for c in mine), f"{alert} is never tested firing"
        assert any(not c["exp_alerts"] for c in mine), f"{alert} is never tested silent"


def test_every_recording_rule_has_an_expected_value():
    records = [r["record"] for g in yaml.safe_load(rule_file("recording.yml"))["groups"] for r in g["rules"]]
    exprs = " ".join(case["expr"] for test in yaml.safe_load(rule_file("recording_test.yml"))["tests"]
                     for case in test.get("promql_expr_test", []))
    assert [r for r in records if r not in exprs] == []


def test_a_wrong_threshold_fails_its_unit_test_with_a_diff(rules):
    alerts = rules / "alerts.yml"
    alerts.write_text(alerts.read_text().replace("opslab_feature_psi > 0.25", "opslab_feature_psi > 0.5"))
    result = test_rules(rules / "alerts_test.yml")
    assert not result.ok and result.returncode == 1
    assert "OpslabFeatureDriftMajor" in result.output and "exp:" in result.output and "got:" in result.output


def test_a_rule_file_with_a_syntax_error_says_what_promtool_said(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - record: x:y\n        expr: sum(rate(up[5m])\n")
    with pytest.raises(RuleError, match="parse error") as err:
        check_rules(broken)
    assert "broken.yml" in str(err.value)
    with pytest.raises(RuleError, match="no such rule file"):
        check_rules(tmp_path / "absent.yml")


def test_unknown_shipped_file_is_refused():
    with pytest.raises(ValueError, match="recording.yml"):
        rule_file("nope.yml")
    assert set(SHIPPED) == {"recording.yml", "alerts.yml", "recording_test.yml", "alerts_test.yml"}


def test_compressing_durations_divides_ranges_and_for_windows_only():
    text = "expr: rate(x[5m]) > 0.1 and max_over_time(y[30m:1m]) > 2\nfor: 15m\nlabels: {le: 5m}\n"
    assert compress_durations(text, 60) == (
        "expr: rate(x[5s]) > 0.1 and max_over_time(y[30s:1s]) > 2\nfor: 15s\nlabels: {le: 5m}\n")
    assert compress_durations("for: 1m", 120) == "for: 500ms"
    assert compress_durations("rate(x[1h30m])", 60) == "rate(x[90s])"
    assert compress_durations("for: 1m\nfor: 10m\nrate(x[1m])", 60, min_for="3s") == "for: 3s\nfor: 10s\nrate(x[1s])"


def test_the_compressed_rules_are_still_valid(tmp_path):
    written = write_rules(tmp_path, names=("recording.yml", "alerts.yml"), compress=60)
    assert "[5s]" in written[0].read_text() and "for: 5s" in written[1].read_text()
    assert "for: 3s" in written[1].read_text() and "for: 1s" not in written[1].read_text()  # TargetDown: 1m
    check_rules(*written)

"""Module 5's monitoring stack: a real Prometheus, a real Alertmanager, a webhook receiver, and the
course's rules and dashboard as package data (plumbing only: the labs write the PromQL and rules)."""

from opslab.monitoring.alertmanager import AlertmanagerServer, ConfigError, course_config
from opslab.monitoring.binaries import MissingBinary
from opslab.monitoring.prometheus import PrometheusServer, QueryError, query, query_range
from opslab.monitoring.rules import RuleError, check_rules, compress_durations, rule_file, test_rules, write_rules
from opslab.monitoring.stack import MonitoringStack
from opslab.monitoring.webhook import WebhookReceiver

__all__ = [
    "AlertmanagerServer",
    "ConfigError",
    "course_config",
    "MissingBinary",
    "MonitoringStack",
    "PrometheusServer",
    "QueryError",
    "RuleError",
    "WebhookReceiver",
    "check_rules",
    "compress_durations",
    "query",
    "query_range",
    "rule_file",
    "test_rules",
    "write_rules",
]

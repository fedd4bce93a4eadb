"""config/pipelines.yaml, the alert notifiers, the preflight check and the run summary's
reading of job metrics."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from lakehouse.config import ConfigError, load_profile
from lakehouse.config.pipelines import load_pipelines
from lakehouse.orchestration import alerts, preflight
from lakehouse.platform.airflow_env import airflow_connections
from lakehouse.report.run_summary import failed_checks, run_key


def test_the_default_policy_is_three_retries_doubling_from_two_to_ten_minutes(monkeypatch):
    for var in ("LAKEHOUSE_RETRIES", "LAKEHOUSE_RETRY_DELAY_SECONDS"):
        monkeypatch.delenv(var, raising=False)
    args = load_pipelines().defaults.default_args()
    assert args["retries"] == 3
    assert args["retry_delay"] == timedelta(minutes=2)
    assert args["retry_exponential_backoff"] == 2.0
    assert args["max_retry_delay"] == timedelta(minutes=10)


def test_the_environment_can_shorten_retries(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_RETRY_DELAY_SECONDS", "3")
    assert load_pipelines().defaults.default_args()["retry_delay"] == timedelta(seconds=3)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("retries: ${LAKEHOUSE_RETRIES:-3}", "retries: -2"),
        ("max_retry_delay_seconds: 600", "max_retry_delay_seconds: 1"),
        ("    run_summary: 10", "    run_sumary: 10"),
        ("owner: data-platform", "owner: ''"),
    ],
)
def test_a_bad_pipelines_file_names_the_file_and_the_key(tmp_path, patch, message):
    from lakehouse.config.pipelines import PIPELINES_FILE

    text = PIPELINES_FILE.read_text()
    assert patch in text
    path = tmp_path / "pipelines.yaml"
    path.write_text(text.replace(patch, message))
    with pytest.raises(ConfigError, match="pipelines.yaml: key '(defaults|master)"):
        load_pipelines(path)


def test_failure_notifiers_follow_the_profile(monkeypatch):
    from airflow.providers.http.notifications.http import HttpNotifier
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    monkeypatch.delenv("LAKEHOUSE_ALERT_WEBHOOK_URL", raising=False)
    profile, pipelines = load_profile("local"), load_pipelines()
    (email,) = alerts.failure_notifiers(profile, pipelines)
    assert isinstance(email, SmtpNotifier) and email.to == pipelines.alerts.email_to
    for field in ("ti.dag_id", "ti.task_id", "ti.try_number", "ti.log_url", "exception"):
        assert field in email.subject + email.html_content, field
    monkeypatch.setenv("LAKEHOUSE_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    profile = load_profile("local")
    kinds = [type(n) for n in alerts.failure_notifiers(profile, pipelines)]
    assert kinds == [SmtpNotifier, HttpNotifier]
    conns = airflow_connections(profile)
    smtp = json.loads(conns["AIRFLOW_CONN_LAKEHOUSE_SMTP"])
    assert (smtp["host"], smtp["port"]) == ("127.0.0.1", profile.alerts.smtp_port)
    hook = json.loads(conns["AIRFLOW_CONN_LAKEHOUSE_ALERT_WEBHOOK"])
    assert hook == {"conn_type": "http", "host": "http://127.0.0.1:9/hook"}


def test_preflight_lists_every_problem_at_once(monkeypatch):
    for var in ("AIRFLOW_CONN_LAKEHOUSE_AWS", "AIRFLOW_CONN_LAKEHOUSE_SPARK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "local")
    found, facts = preflight.problems(["events", "no_such_dataset"])
    assert facts["profile"] == "local"
    text = " | ".join(found)
    assert "unknown datasets ['no_such_dataset']" in text
    assert "'lakehouse_aws'" in text and "'lakehouse_spark'" in text


def test_preflight_passes_with_the_profiles_connections(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "local")
    for key, value in airflow_connections(load_profile("local")).items():
        monkeypatch.setenv(key, value)
    found, facts = preflight.problems(["events"])
    assert found == [] and facts["warehouse_tables"] >= 17


def test_failed_checks_are_read_from_both_metric_shapes():
    silver = {
        "datasets": {
            "events": {"dq": [{"check": "error_rate", "passed": False}]},
            "users": {"dq": [{"check": "unique_key", "passed": True}]},
        }
    }
    assert failed_checks(silver) == [{"check": "error_rate", "passed": False, "dataset": "events"}]
    gold = {"dq": [{"check": "rows>0:x", "passed": False}, {"check": "fk", "passed": True}]}
    assert failed_checks(gold) == [{"check": "rows>0:x", "passed": False}]
    assert failed_checks(None) == []
    assert run_key("manual__2026-11-26T06:00:00+00:00") == "manual__2026-11-26T06-00-00_00-00"

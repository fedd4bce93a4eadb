"""Alerts for the generated DAGs: the providers' notifiers, configured from the profile (where:
SMTP server, webhook URL) and config/pipelines.yaml (who).

- a task failure (after its last try): an email through the smtp provider's SmtpNotifier, a
  JSON POST through the http provider's HttpNotifier when the profile names a webhook, and a
  message to an SNS topic through the amazon provider's SnsNotifier when it names one (the aws
  profile); all carry the DAG, task, run, try number, log URL and the exception;
- a master run still not done `deadline_minutes` after it was queued: Airflow's deadline alert
  with the same email and SNS notifiers, run on the triggerer.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from lakehouse.config import Profile
from lakehouse.config.pipelines import Pipelines

SMTP_CONN_ID = "lakehouse_smtp"
WEBHOOK_CONN_ID = "lakehouse_alert_webhook"

SUBJECT = "[lakehouse] FAILED {{ ti.dag_id }}.{{ ti.task_id }} (try {{ ti.try_number }})"
BODY = """<h3>Task failed</h3>
<table>
<tr><td>DAG</td><td>{{ ti.dag_id }}</td></tr>
<tr><td>Task</td><td>{{ ti.task_id }}{% if ti.map_index is not none and ti.map_index >= 0 %}
 [{{ ti.map_index }}]{% endif %}</td></tr>
<tr><td>Run</td><td>{{ run_id }}</td></tr>
<tr><td>Try</td><td>{{ ti.try_number }} of {{ task.retries + 1 }}</td></tr>
<tr><td>Log</td><td><a href="{{ ti.log_url }}">{{ ti.log_url }}</a></td></tr>
</table>
<h4>Exception</h4>
<pre>{{ exception }}</pre>
"""
SNS_SUBJECT = "[lakehouse] FAILED {{ ti.dag_id }}.{{ ti.task_id }}"  # SNS: 100 chars, one line
SNS_MESSAGE = """Task failed
DAG: {{ ti.dag_id }}
Task: {{ ti.task_id }}
{%- if ti.map_index is not none and ti.map_index >= 0 %} [{{ ti.map_index }}]{% endif %}
Run: {{ run_id }}
Try: {{ ti.try_number }} of {{ task.retries + 1 }}
Log: {{ ti.log_url }}

{{ exception }}
"""
WEBHOOK_JSON = {
    "event": "task_failed",
    "dag_id": "{{ ti.dag_id }}",
    "task_id": "{{ ti.task_id }}",
    "run_id": "{{ run_id }}",
    "try_number": "{{ ti.try_number }}",
    "log_url": "{{ ti.log_url }}",
    "exception": "{{ exception }}",
}


def _email_kwargs(pipelines: Pipelines) -> dict[str, Any]:
    return {
        "to": list(pipelines.alerts.email_to),
        "from_email": pipelines.alerts.email_from,
        "smtp_conn_id": SMTP_CONN_ID,
    }


def failure_notifiers(profile: Profile, pipelines: Pipelines) -> list:
    """The on_failure_callback list for every task (empty when nothing is configured): the
    alert's record for the run report first, then one notifier per configured channel."""
    out: list = []
    channels: list[dict[str, Any]] = []
    if profile.alerts.smtp_host and pipelines.alerts.email_to:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        out.append(SmtpNotifier(subject=SUBJECT, html_content=BODY, **_email_kwargs(pipelines)))
        channels.append({"kind": "email", "to": list(pipelines.alerts.email_to)})
    if profile.alerts.webhook_url and pipelines.alerts.webhook:
        from airflow.providers.http.notifications.http import HttpNotifier

        out.append(HttpNotifier(http_conn_id=WEBHOOK_CONN_ID, json=dict(WEBHOOK_JSON)))
        channels.append({"kind": "webhook", "to": [WEBHOOK_CONN_ID]})
    sns = _sns_kwargs(profile, pipelines)
    if sns:
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        out.append(SnsNotifier(subject=SNS_SUBJECT, message=SNS_MESSAGE, **sns))
        channels.append({"kind": "sns", "to": [sns["target_arn"]]})
    if out:
        from lakehouse.orchestration.alert_record import AlertRecord

        out.insert(0, AlertRecord(channels))
    return out


def _sns_kwargs(profile: Profile, pipelines: Pipelines) -> dict[str, Any]:
    """Topic, connection and region of the SNS alerts; empty when they are off."""
    if not (profile.alerts.sns_topic_arn and pipelines.alerts.sns):
        return {}
    from lakehouse.backends import backends
    from lakehouse.backends.base import AWS_CONN_ID

    return {
        "target_arn": profile.alerts.sns_topic_arn,
        "aws_conn_id": AWS_CONN_ID,
        "region_name": backends(profile).store.region,
    }


def deadline_alerts(profile: Profile, pipelines: Pipelines, dag_id: str) -> list:
    """Airflow 3's deadline alerts on the master DAG: by email and by SNS, where configured."""
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    minutes = pipelines.master.deadline_minutes
    subject = f"[lakehouse] LATE {dag_id}: not done {minutes:g} min after queued"
    text = (
        f"A run of {dag_id} missed its {minutes:g}-minute deadline "
        "(config/pipelines.yaml master.deadline_minutes)."
    )
    email_on = bool(profile.alerts.smtp_host and pipelines.alerts.email_to)
    sns = _sns_kwargs(profile, pipelines)
    if not (email_on or sns):
        return []
    # Airflow 3.2.2 drops a DAG's deadline alerts from every new DAG version whose deadline
    # definition is unchanged (apache/airflow#68732, fixed in 3.3.2): a value that changes with
    # the files defining the DAG, in each callback's arguments, makes each new version's
    # definition new, so it keeps them. Hashed once per parse, whatever the callbacks.
    fingerprint = definition_fingerprint()
    callbacks = []
    if email_on:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        headers = {"X-Lakehouse-Definition": fingerprint}
        email = {
            **_email_kwargs(pipelines),
            "custom_headers": headers,
            "subject": subject,
            "html_content": f"<p>{text}</p>",
        }
        callbacks.append(AsyncCallback(SmtpNotifier, kwargs=email))
    if sns:
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        attributes = {"lakehouse_definition": fingerprint}  # as a message attribute
        kwargs = {**sns, "subject": subject, "message": text, "message_attributes": attributes}
        callbacks.append(AsyncCallback(SnsNotifier, kwargs=kwargs))
    return [
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(minutes=minutes),
            callback=callback,
        )
        for callback in callbacks
    ]


def definition_fingerprint() -> str:
    """A short hash of the files the generated DAGs are built from (code and config)."""
    from lakehouse.paths import REPO_ROOT

    digest = hashlib.sha256()
    for pattern in (
        "lakehouse/*.py",
        "airflow/dags/*.py",
        "config/**/*.yaml",
        "warehouse_sql/**/*.yaml",
    ):
        for path in sorted(REPO_ROOT.glob(pattern)):
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def transport_connections(profile: Profile) -> dict[str, dict]:
    """Airflow connections for the profile's alert transport (lakehouse/platform/airflow_env.py)."""
    conns: dict[str, dict] = {}
    alerts = profile.alerts
    if alerts.smtp_host:
        conns[SMTP_CONN_ID] = {
            "conn_type": "smtp",
            "host": alerts.smtp_host,
            "port": alerts.smtp_port,
            "extra": {"disable_ssl": True, "disable_tls": not alerts.smtp_starttls},
        }
    if alerts.webhook_url:
        conns[WEBHOOK_CONN_ID] = {"conn_type": "http", "host": alerts.webhook_url}
    return conns


TEST_SUBJECT = "[lakehouse] TEST alert from profile {profile}"


def send_test(profile: Profile, pipelines: Pipelines) -> str:
    """One test email to the alert recipients through the smtp provider's hook and the
    `lakehouse_smtp` connection, the way the DAGs' alerts go (the connection from the
    environment, as Airflow's containers have it, else derived from the profile); returns the
    subject."""
    import json
    import os

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from lakehouse.config import ConfigError

    if not profile.alerts.smtp_host:
        raise ConfigError(
            f"profile {profile.name} names no mail server: set alerts.smtp_host in "
            f"config/profiles/{profile.name}.yaml"
        )
    if not pipelines.alerts.email_to:
        raise ConfigError("no alert recipients: set alerts.email_to in config/pipelines.yaml")
    variable = f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}"
    derived = variable not in os.environ
    if derived:
        os.environ[variable] = json.dumps(transport_connections(profile)[SMTP_CONN_ID])
    subject = TEST_SUBJECT.format(profile=profile.name)
    try:
        with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
            hook.send_email_smtp(
                to=list(pipelines.alerts.email_to),
                from_email=pipelines.alerts.email_from,
                subject=subject,
                html_content="<p>The lakehouse's alert channel works: failure alerts will "
                "arrive here.</p>",
            )
    finally:
        if derived:
            del os.environ[variable]
    return subject


def read_maildir(path: Path) -> list[dict[str, str]]:
    """The messages a Maildir sink holds (the Compose stack's `mail` service), oldest first:
    date, sender, recipients and subject of each."""
    import mailbox
    from email.utils import parsedate_to_datetime

    if not (path / "cur").is_dir() or not (path / "new").is_dir():
        raise FileNotFoundError(f"{path} is not a Maildir (no cur/ and new/ in it)")
    out = []
    for message in mailbox.Maildir(path, create=False):
        when = message["Date"]
        out.append(
            {
                "date": parsedate_to_datetime(when).isoformat() if when else "",
                "from": message["From"] or "",
                "to": message["To"] or "",
                "subject": message["Subject"] or "",
            }
        )
    return sorted(out, key=lambda m: m["date"])

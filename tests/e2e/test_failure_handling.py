"""Fail-fast and alerting through the real scheduler: a batch of events whose rows are mostly
invalid fails SILVER's data-quality check; the Spark task fails at once (no retry: the same
files would fail the same way), GOLD and the warehouse never run, the run summary still records
what happened, and an alert with DAG, task, try number, log URL and exception reaches the
SMTP server the profile names (a sink started here)."""

from __future__ import annotations

import csv
import html
import json
import time
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from lakehouse import report
from lakehouse.backends.storage import object_store
from lakehouse.config.pipelines import MASTER_DAG_ID, load_pipelines
from lakehouse.platform import pipeline
from lakehouse.platform.pipeline import SAMPLE
from lakehouse.report.run_summary import run_key
from seed_data.operational import load_batch


class Sink:
    """Keeps every message the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp(profile):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=profile.alerts.smtp_port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture(scope="module")
def failed_run(profile, smtp, tmp_path_factory):
    pipeline.wait_until_idle(profile)
    pipeline.reset_lake(profile)
    pipeline.reset_source(profile)
    load_batch(profile.source_db.dsn(), SAMPLE / "batch-01")  # the DB branch succeeds
    bad = tmp_path_factory.mktemp("bad") / "events_bad_timestamps.csv"
    with bad.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["event_id", "user_id", "event_type", "event_ts", "device"])
        for i in range(40):  # 36 of 40 rows have an unparseable timestamp: 90% > 10%
            ts = "2026-11-01T10:00:00Z" if i < 4 else f"not-a-time-{i}"
            writer.writerow([f"bad-{i:03d}", 100 + i, "login", ts, "web"])
    store = object_store(profile)
    store.put(profile.zones.raw, f"events/{bad.name}", bad.read_bytes())
    pipeline.wait_for_dag(profile)
    run_id = pipeline.trigger(profile)
    with pytest.raises(pipeline.PipelineError, match="ended failed"):
        pipeline.wait_for_run(profile, run_id, timeout=900)
    return run_id


def test_silver_fails_once_and_nothing_downstream_runs(profile, failed_run):
    rows = pipeline.task_instances(profile, MASTER_DAG_ID, failed_run)
    states = {r["task_id"]: r["state"] for r in rows}
    assert states["bronze_to_silver"] == "failed"
    tries = pipeline.attempts(profile, MASTER_DAG_ID, failed_run, "bronze_to_silver")
    assert tries == 1, "a data-quality failure must not be retried"
    for task_id in ("silver_to_gold", "load_warehouse", "validate_warehouse"):
        assert states[task_id] == "upstream_failed", (task_id, states)
    assert states["raw_to_bronze"] == "success" and states["db_to_bronze"] == "success"
    assert states["run_summary"] == "failed"  # the leaf fails the run, after its summary


def test_the_run_summary_records_the_failure(profile, failed_run):
    store = object_store(profile)
    summary = json.loads(
        store.get(profile.zones.metrics, f"runs/{run_key(failed_run)}/summary.json")
    )
    assert summary["failed_tasks"] == [
        "bronze_to_silver",
        "load_warehouse",
        "silver_to_gold",
        "validate_warehouse",
    ]
    (check,) = summary["failed_checks"]["bronze_to_silver"]
    assert check["check"] == "error_rate" and check["dataset"] == "events"
    assert check["observed"] == pytest.approx(0.9)
    # The failure names the file and the command that lets the rest of the batch through.
    (worst,) = summary["rows"]["silver"]["events"]["worst_files"]
    assert (worst["rows"], worst["quarantined"]) == (40, 36)
    assert worst["bronze_key"].startswith("events/ingest_date=")
    assert (
        f"lakehouse silver release --dataset events --file '{worst['bronze_key']}'"
        in (check["remedy"])
    )
    page = report.fetch(profile, failed_run)[1].decode()  # the report says so too
    assert "Failed: bronze_to_silver, load_warehouse, silver_to_gold" in page
    assert "error_rate" in page and "FAILED" in page
    # The alert the failed task sent, recorded by its failure callback: the report lists it,
    # where it went, and links the failed try's log.
    (alert,) = summary["alerts"]  # the tasks that never ran (upstream_failed) sent none
    assert (alert["task_id"], alert["try_number"]) == ("bronze_to_silver", 1)
    assert alert["channels"] == [{"kind": "email", "to": load_pipelines().alerts.email_to}]
    assert "error_rate" in alert["exception"]
    assert f"/dags/{MASTER_DAG_ID}/runs/" in alert["log_url"]
    assert "<h2>Alerts</h2>" in page and f'href="{html.escape(alert["log_url"])}"' in page


def test_an_alert_reaches_the_smtp_server_with_the_facts(profile, smtp, failed_run):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not smtp.messages:
        time.sleep(1)
    subjects = [m["Subject"] for m in smtp.messages]
    assert f"[lakehouse] FAILED {MASTER_DAG_ID}.bronze_to_silver (try 1)" in subjects, subjects
    message = next(m for m in smtp.messages if "bronze_to_silver" in m["Subject"])
    body = "".join(
        part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type() == "text/html"
    )
    assert failed_run in body  # the run id
    assert "Log</td>" in body and f"/dags/{MASTER_DAG_ID}/runs/" in body  # the log URL
    assert "data quality checks failed" in body and "error_rate" in body  # the exception


def test_a_run_past_its_deadline_sends_a_late_alert(profile, smtp, failed_run):
    """Needs a deadline shorter than the run (`make test` starts the services with
    LAKEHOUSE_DEADLINE_MINUTES=0.5)."""
    from lakehouse.config.pipelines import load_pipelines

    minutes = load_pipelines().master.deadline_minutes
    if minutes > 1:
        pytest.fail(
            f"deadline is {minutes:g} min: start the stack with "
            f"LAKEHOUSE_DEADLINE_MINUTES=0.5 to see it fire within a test run"
        )
    deadline = time.monotonic() + 120
    late = []
    while time.monotonic() < deadline and not late:
        late = [m for m in smtp.messages if m["Subject"].startswith("[lakehouse] LATE")]
        time.sleep(1)
    assert late, [m["Subject"] for m in smtp.messages]
    assert f"LATE {MASTER_DAG_ID}: not done {minutes:g} min after queued" in late[0]["Subject"]

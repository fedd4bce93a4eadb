"""config/pipelines.yaml, the alert notifiers, the preflight check and the run summary's
reading of job metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import Asset

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
        ("settle_max_seconds: 300", "settle_max_seconds: 5"),
        ("on_landing: ${LAKEHOUSE_MASTER_ON_LANDING:-true}", "on_landing: sometimes"),
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

    from lakehouse.orchestration.alert_record import AlertRecord

    monkeypatch.delenv("LAKEHOUSE_ALERT_WEBHOOK_URL", raising=False)
    profile, pipelines = load_profile("local"), load_pipelines()
    record, email = alerts.failure_notifiers(profile, pipelines)
    assert isinstance(email, SmtpNotifier) and email.to == pipelines.alerts.email_to
    assert isinstance(record, AlertRecord)
    assert record.channels == [{"kind": "email", "to": pipelines.alerts.email_to}]
    for field in ("ti.dag_id", "ti.task_id", "ti.try_number", "ti.log_url", "exception"):
        assert field in email.subject + email.html_content, field
    monkeypatch.setenv("LAKEHOUSE_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    profile = load_profile("local")
    kinds = [type(n) for n in alerts.failure_notifiers(profile, pipelines)]
    assert kinds == [AlertRecord, SmtpNotifier, HttpNotifier]
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


def _embedded_at(root):
    from lakehouse.config import FilesystemStore

    profile = load_profile("embedded")
    return profile.model_copy(
        update={"object_store": FilesystemStore(kind="filesystem", root=root)}
    )


def test_a_failure_alert_is_recorded_and_the_failed_runs_report_lists_it(tmp_path, monkeypatch):
    """The record notifier writes the failed try's facts next to the run's report; the run
    summary reads them back and the report shows where the alert went and links the log."""
    from types import SimpleNamespace

    import lakehouse.config
    from lakehouse import report
    from lakehouse.orchestration.alert_record import AlertRecord
    from lakehouse.report.run_summary import read_alerts

    profile = _embedded_at(tmp_path)
    monkeypatch.setattr(lakehouse.config, "load_profile", lambda *_a, **_k: profile)
    run_id = "manual__2026-12-01T10:00:00+00:00"
    log_url = "http://127.0.0.1:8080/dags/lakehouse_pipeline/runs/r/tasks/ingest?try_number=2"
    channels = [{"kind": "email", "to": ["ops@example.com"]}]
    for task_id, map_index in (("bronze_to_silver", -1), ("raw_to_bronze", 3)):
        ti = SimpleNamespace(
            dag_id="lakehouse_pipeline",
            task_id=task_id,
            map_index=map_index,
            try_number=2,
            log_url=log_url,
        )
        error = ValueError(f"{task_id} broke\nsecond line")
        AlertRecord(channels).notify({"ti": ti, "run_id": run_id, "exception": error})
    store = lakehouse.backends.storage.object_store(profile)
    keys = sorted(o.key for o in store.list(profile.zones.metrics))
    assert keys == [
        f"runs/{run_key(run_id)}/alerts/bronze_to_silver.try-2.json",
        f"runs/{run_key(run_id)}/alerts/raw_to_bronze.3.try-2.json",
    ]
    records = read_alerts(profile, run_id)
    assert [(r["task_id"], r["map_index"], r["try_number"]) for r in records] == [
        ("bronze_to_silver", -1, 2),
        ("raw_to_bronze", 3, 2),
    ]
    assert records[0]["exception"] == "ValueError: bronze_to_silver broke\nsecond line"
    assert records[0]["channels"] == channels and records[0]["log_url"] == log_url
    summary = {"run_id": run_id, "failed_tasks": ["bronze_to_silver"], "alerts": records}
    page = report.render(summary, {})
    start = page.index("<h2>Alerts</h2>")
    section = page[start : page.index("<h2>", start + 1)]
    assert "2 alert(s)" in section and "raw_to_bronze [3]" in section
    assert "email to ops@example.com" in section
    assert f'<a href="{log_url.replace("&", "&amp;")}">log</a>' in section
    assert "ValueError: bronze_to_silver broke" in section and "second line" not in section
    assert "<h2>Alerts</h2>" not in report.render({**summary, "failed_tasks": []}, {})


def test_an_alert_record_that_cannot_be_written_does_not_stop_the_alerts(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import lakehouse.config
    from lakehouse.orchestration.alert_record import AlertRecord

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the lake's root should be")
    profile = _embedded_at(blocker)
    monkeypatch.setattr(lakehouse.config, "load_profile", lambda *_a, **_k: profile)
    ti = SimpleNamespace(dag_id="d", task_id="t", map_index=-1, try_number=1, log_url="")
    AlertRecord([]).notify({"ti": ti, "run_id": "r", "exception": None})  # logs, never raises
    assert blocker.read_text().startswith("a file")


def test_a_test_alert_goes_through_airflows_smtp_connection_into_a_maildir(
    tmp_path, monkeypatch, capsys
):
    """`lakehouse alerts --send-test` then `--maildir`: the provider's SMTP hook, with the
    connection derived from the profile, delivers to a Maildir sink (aiosmtpd's Mailbox, what
    the Compose stack's `mail` service runs) and the listing shows it."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    from lakehouse.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("LAKEHOUSE_SMTP_PORT", str(port))
    monkeypatch.delenv("AIRFLOW_CONN_LAKEHOUSE_SMTP", raising=False)
    maildir = tmp_path / "inbox"
    sink = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port)
    sink.start()
    try:
        assert main(["--profile", "local", "alerts", "--send-test", "--maildir", str(maildir)]) == 0
    finally:
        sink.stop()
    out = capsys.readouterr().out
    subject = alerts.TEST_SUBJECT.format(profile="local")
    assert f"sent: {subject}" in out and "1 message(s)" in out
    (message,) = alerts.read_maildir(maildir)
    assert message["subject"] == subject
    assert message["to"] == ", ".join(load_pipelines().alerts.email_to)
    with pytest.raises(FileNotFoundError, match="not a Maildir"):
        alerts.read_maildir(tmp_path)
    assert main(["--profile", "local", "alerts"]) == 2  # nothing asked: says so


def _landings(*minutes: int):
    """triggering_asset_events as the task context gives them: asset -> its events."""
    from types import SimpleNamespace

    events = [SimpleNamespace(timestamp=T0 + timedelta(minutes=m)) for m in minutes]
    events_asset, users_asset = (
        Asset(name=f"bronze/{d}", uri=f"s3://b/{d}") for d in ("events", "users")
    )
    return {
        events_asset: events[:1],
        users_asset: events[1:],
    }


T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _span(stage: str, at: datetime) -> dict:
    return {"stage": stage, "started_at": at.timestamp(), "duration_s": 60.0}


def test_a_run_started_by_landings_settles_then_goes_or_is_skipped_when_nothing_is_new(
    tmp_path, monkeypatch
):
    """settle_landings against a real (filesystem) lake: a manual run goes at once and records
    nothing; a run started by landings waits settle_seconds, then while RAW holds files (until
    settle_max_seconds), then goes; once a run has recorded when its SILVER read BRONZE, a run
    started only by earlier landings is skipped."""
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowSkipException

    import lakehouse.config
    from lakehouse.backends.storage import object_store
    from lakehouse.orchestration import landing, steps

    profile = _embedded_at(tmp_path)
    monkeypatch.setattr(lakehouse.config, "load_profile", lambda *_a, **_k: profile)
    store = object_store(profile)

    queued = {"runs": 0}

    class Ti:  # the two calls the task makes of its task instance
        pushed: dict = {}

        def get_dr_count(self, dag_id, states):
            assert (dag_id, states) == ("lakehouse_pipeline", ["queued"])
            return queued["runs"]

        def xcom_push(self, key, value):
            self.pushed[key] = value

    def poke(events, started_s_ago: float):
        started = datetime.now(UTC) - timedelta(seconds=started_s_ago)
        run = SimpleNamespace(dag_id="lakehouse_pipeline", start_date=started)
        return steps.settle_landings(run, Ti(), events, ["events", "users"], 20, 300)

    manual = poke({}, 0)  # not started by landings: at once
    assert manual.is_done and manual.xcom_value["landings"] == {}
    assert not store.exists(profile.zones.metrics, landing.CUTOFF_KEY)
    events = _landings(1, 2)
    assert not poke(events, 5).is_done  # the debounce's minimum
    store.put(profile.zones.raw, "users/late.csv", b"user_id\n1\n")
    assert not poke(events, 60).is_done  # a file still waits in RAW
    waited_out = poke(events, 301)  # ... but not past the maximum
    assert waited_out.is_done and waited_out.xcom_value["raw_files"] == 1
    store.delete(profile.zones.raw, "users/late.csv")
    done = poke(events, 25)
    assert done.is_done
    assert done.xcom_value["landings"] == {"bronze/events": 1, "bronze/users": 1}
    # The cutoff: when the run's SILVER began reading BRONZE, from its metrics; a run that
    # stopped before SILVER (no such span in its timeline) records none.
    read_at = T0 + timedelta(minutes=3)
    landing.record_cutoff(store, profile, {"run_id": "r1", "timeline": [_span("db_to_bronze", T0)]})
    assert landing.read_cutoff(store, profile) is None
    landing.record_cutoff(
        store, profile, {"run_id": "r1", "timeline": [_span("bronze_to_silver", read_at)]}
    )
    cutoff = landing.read_cutoff(store, profile)
    assert cutoff == read_at
    with pytest.raises(AirflowSkipException, match="nothing new"):
        poke(events, 0)  # every landing before the cutoff: skipped at once
    assert "nothing new" in Ti.pushed["skipped"]  # for the run's summary
    later = {
        Asset(name="bronze/users", uri="s3://b/users"): [
            SimpleNamespace(timestamp=cutoff + timedelta(seconds=1))
        ]
    }
    assert not poke({**events, **later}, 0).is_done  # one landing after it: a real run
    queued["runs"] = 1  # ... unless a run queued behind it will read it all anyway
    with pytest.raises(AirflowSkipException, match="1 run\\(s\\) queued behind it"):
        poke({**events, **later}, 0)


def test_the_ingestion_task_emits_its_asset_only_when_files_reached_bronze(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowSkipException

    import lakehouse.config
    from lakehouse.backends.storage import object_store
    from lakehouse.orchestration import steps

    profile = _embedded_at(tmp_path)
    monkeypatch.setattr(lakehouse.config, "load_profile", lambda *_a, **_k: profile)
    store = object_store(profile)
    asset = Asset(name="bronze/users", uri="s3://bronze/users/")
    outlet_events = {asset: SimpleNamespace(extra={})}
    with pytest.raises(AirflowSkipException, match="nothing landed"):
        steps.landed_summary("users", asset, outlet_events)  # RAW empty
    assert outlet_events[asset].extra == {}
    data = b"user_id,email,updated_at\n7,a@example.com,1793527200\n"
    store.put(profile.zones.raw, "users/u.csv", data)
    summary = steps.landed_summary("users", asset, outlet_events)
    assert summary["files_bronze"] == 1
    assert outlet_events[asset].extra == {"files": 1, "bytes": len(data)}
    store.put(profile.zones.raw, "users/again.csv", data)  # the same content: a duplicate
    with pytest.raises(AirflowSkipException):
        steps.landed_summary("users", asset, outlet_events)


def test_a_run_whose_gold_stopped_at_its_inputs_is_summarised_and_records_its_cutoff(
    tmp_path, monkeypatch
):
    """GOLD that found a SILVER input missing writes metrics without tables: the summary
    still comes out (SILVER's rows, GOLD's failed check), and the cutoff is SILVER's start."""
    import lakehouse.config
    from lakehouse.backends.storage import object_store
    from lakehouse.orchestration import landing
    from lakehouse.report.run_summary import collect

    profile = _embedded_at(tmp_path)
    monkeypatch.setattr(lakehouse.config, "load_profile", lambda *_a, **_k: profile)
    store = object_store(profile)
    run_id = "asset_triggered__2026-12-04T15:03:44+00:00_x"
    check = {"check": "silver_inputs_present", "passed": False, "observed": "transactions"}
    silver = {
        "stage": "bronze_to_silver",
        "datasets": {"users": {"dataset": "users", "rows_read": 1, "dq": []}},
        "started_at": T0.timestamp(),
        "duration_s": 30.0,
    }
    for stage, doc in (
        ("bronze_to_silver", silver),
        ("silver_to_gold", {"stage": "silver_to_gold", "dq": [check]}),
    ):
        key = f"runs/{run_key(run_id)}/{stage}/part-00000.json"
        store.put(profile.zones.metrics, key, json.dumps(doc).encode())
    states = {"bronze_to_silver": "success", "silver_to_gold": "failed"}
    summary = collect(profile, run_id, states)
    assert summary["rows"]["silver"]["users"]["rows_read"] == 1 and "gold" not in summary["rows"]
    assert summary["failed_checks"]["silver_to_gold"][0]["check"] == "silver_inputs_present"
    landing.record_cutoff(store, profile, summary)
    assert landing.read_cutoff(store, profile) == T0

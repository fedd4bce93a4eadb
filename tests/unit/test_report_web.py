"""Where the "Run report" link of a master run points, per profile, and which run keys the
api-server route accepts; the timeline the run summary builds for the report's Gantt chart."""

from __future__ import annotations

import pytest

from lakehouse.config import load_profile
from lakehouse.report import web as report_web
from lakehouse.report.run_summary import timeline

RUN_ID = "manual__2026-11-26T10:00:00.123456+00:00"


def test_local_runs_link_to_the_api_servers_report_route():
    url = report_web.report_url(load_profile("local"), RUN_ID, "http://127.0.0.1:8080/")
    assert url == (
        "http://127.0.0.1:8080/lakehouse/runs/manual__2026-11-26T10-00-00.123456_00-00/report.html"
    )
    key = url.split("/runs/")[1].split("/")[0]
    assert report_web.RUN_KEY.fullmatch(key)


def test_aws_runs_link_to_the_s3_console(monkeypatch):
    from tests.moto_aws import AWS_PROFILE_ENV

    for name, value in {**AWS_PROFILE_ENV, "AWS_ENDPOINT_URL": ""}.items():
        monkeypatch.setenv(name, value)
    profile = load_profile("aws")
    url = report_web.report_url(profile, RUN_ID, "http://ignored")
    assert url.startswith(
        "https://eu-west-1.console.aws.amazon.com/s3/object/acme-lakehouse-metrics"
        "?region=eu-west-1&prefix=runs%2F"
    )
    assert url.endswith("%2Freport.html")


@pytest.mark.parametrize("key", ["..", "../secrets", "a/b", "run key", "", ".hidden", "a\nb"])
def test_the_route_refuses_what_is_not_a_run_key(key):
    assert not (report_web.RUN_KEY.fullmatch(key) and ".." not in key)


def test_the_run_summary_task_carries_the_link():
    from lakehouse.orchestration.dags import build_all

    task = build_all()["lakehouse_pipeline"].get_task("run_summary")
    assert [link.name for link in task.operator_extra_links] == ["Run report"]


def test_the_timeline_orders_every_timed_stage_and_drops_untimed_ones():
    metrics = {
        "db_to_bronze": {"started_at": 30.0, "duration_s": 5.0},
        "bronze_to_silver": {"duration_s": 9.0},  # written before starts were recorded
        "silver_to_gold": None,
    }
    ingestion = [{"dataset": "events", "started_at": 20.0, "duration_s": 1.5}]
    spans = timeline(metrics, ingestion, {"started_at": 90.0, "duration_s": 2.0})
    assert spans == [
        {"stage": "raw_to_bronze[events]", "started_at": 20.0, "duration_s": 1.5},
        {"stage": "db_to_bronze", "started_at": 30.0, "duration_s": 5.0},
        {"stage": "load_warehouse", "started_at": 90.0, "duration_s": 2.0},
    ]

"""The run report renders every section from a run summary and the marts, self-contained (inline
CSS and SVG, no script, nothing fetched), and round-trips through the metrics zone."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from lakehouse import report
from lakehouse.backends.storage import MissingObject
from lakehouse.config import FilesystemStore, load_profile

SUMMARY = {
    "run_id": "manual__2026-11-26T10:00:00+00:00",
    "profile": "local",
    "task_states": {
        "validate_config": "success",
        "bronze_to_silver": "success",
        "silver_to_gold": "success",
        "run_summary": "running",
    },
    "failed_tasks": [],
    "stage_seconds": {"bronze_to_silver": 68.6, "silver_to_gold": 59.1},
    "rows": {
        "bronze_tables": {"products": 30},
        "silver": {
            "events": {
                "files": 5,
                "rows_read": 3433,
                "rows_inserted": 3334,
                "rows_quarantined": {"invalid_timestamp": 20, "unknown_enum": 7},
                "quarantine_samples": {
                    "unknown_enum": [
                        {
                            "event_type": "Teleport",
                            "user_id": "u-9",
                            "source_file": "s3a://b/events/e.csv",
                            "_batch_id": "x",
                        }
                    ]
                },
            }
        },
        "gold": {"fact_events": 3334, "daily_revenue": 12},
    },
    "checks": {
        "bronze_to_silver": [
            {"check": "error_rate", "observed": 0.02, "passed": True, "dataset": "events"}
        ],
        "silver_to_gold": [
            {"check": "rows>0:fact_events", "observed": 3334, "passed": True},
            {"check": "pk_unique:dim_users", "observed": 2, "passed": False},
        ],
    },
    "ingestion": [
        {
            "dataset": "events",
            "files_in": 6,
            "files_bronze": 5,
            "files_quarantine": 1,
            "duration_s": 1.2,
        }
    ],
    "warehouse": {
        "tables": {
            "fact_events": {
                "rows": 3334,
                "seconds": 0.8,
                "figures": {"rows": "3334", "distinct:user_id": "200"},
            }
        }
    },
    "run_started_at": 1000.0,
    "timeline": [
        {"stage": "raw_to_bronze[events]", "started_at": 1010.0, "duration_s": 1.2},
        {"stage": "bronze_to_silver", "started_at": 1030.0, "duration_s": 68.6},
        {"stage": "silver_to_gold", "started_at": 1120.5, "duration_s": 59.1},
    ],
}
MARTS = {
    "daily_revenue": pa.table(
        {
            "revenue_date": [date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 2)],
            "net_usd": [Decimal("10.50"), Decimal("4.50"), Decimal("7.25")],
        }
    ),
    "daily_active_users": pa.table(
        {"activity_date": [date(2026, 11, 1), date(2026, 11, 2)], "active_users": [120, 131]}
    ),
    "customer_360": pa.table(
        {
            "first_order_month": ["2026-10", "2026-10", "2026-10", "2026-11", None],
            "retained": [True, True, False, None, None],
        }
    ),
    "delivery_performance": pa.table(
        {
            "carrier": ["UPS", "DHL"],
            "delivered": [8, 0],
            "returned": [1, 0],
            "return_rate": [0.125, None],
        }
    ),
}


def test_every_section_is_rendered_self_contained():
    page = report.render(SUMMARY, MARTS)
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert page.count("<svg") == 4  # quarantine reasons, stages, revenue, DAU
    for text in (
        "Row flow",
        "GOLD &rarr; WAREHOUSE",
        "rows = 3334<br>distinct user_id = 200",
        "invalid_timestamp",
        "unknown_enum",
        "Daily net revenue (USD)",
        "Daily active users",
        "pk_unique:dim_users",
        "3 checks, <b>1 failed</b>",
        "raw_to_bronze[events]",
        "products",
    ):
        assert text in page, text
    # The Gantt: offsets from the run's start, the end of each bar.
    for cells in (
        "<td>raw_to_bronze[events]</td><td>10.0</td><td>11.2</td><td>1.2</td>",
        "<td>silver_to_gold</td><td>120.5</td><td>179.6</td><td>59.1</td>",
    ):
        assert cells in page, cells
    assert "event_type=Teleport; user_id=u-9" in page and "s3a://b/events/e.csv" in page
    assert "_batch_id" not in page
    assert "3433 rows read from 5 BRONZE files" in page
    # Retention per first-order cohort, and returns per carrier (sorted by name).
    assert "<tr><td>2026-10</td><td>3</td><td>2</td><td>1</td><td>0</td><td>66.7%</td></tr>" in page
    assert (
        "<tr><td>2026-11</td><td>1</td><td>0</td><td>0</td><td>1</td><td>not observed yet" in page
    )
    assert page.index("<td>DHL</td><td>0</td><td>0</td><td></td>") < page.index(
        "<td>UPS</td><td>8</td><td>1</td><td>12.5%</td>"
    )
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched at view time


def test_a_failed_run_and_missing_marts_are_said_plainly():
    failed = {**SUMMARY, "failed_tasks": ["silver_to_gold"], "checks": {}, "ingestion": []}
    page = report.render(failed, {"daily_revenue": None, "daily_active_users": None})
    assert "Failed: silver_to_gold" in page
    assert "No gold export found" in page and "No checks were recorded" in page


def test_a_batch_over_its_error_rate_shows_what_to_do_and_released_files_show_who():
    stuck = {
        **SUMMARY,
        "failed_tasks": ["bronze_to_silver"],
        "checks": {
            "bronze_to_silver": [
                {
                    "check": "error_rate",
                    "observed": 0.25,
                    "passed": False,
                    "dataset": "events",
                    "remedy": "lakehouse silver release --dataset events --file 'events/x.csv'",
                }
            ],
            "silver_to_gold": [
                {
                    "check": "late_arriving:fact_transactions.user_sk",
                    "observed": 3,
                    "passed": True,
                    "blocking": False,
                }
            ],
        },
    }
    stuck["rows"] = {
        "silver": {
            "events": {
                "rows_read": 60,
                "worst_files": [
                    {
                        "bronze_key": "events/x.csv",
                        "rows": 20,
                        "quarantined": 15,
                        "error_rate": 0.75,
                    }
                ],
            }
        }
    }
    page = report.render(stuck, MARTS)
    assert "events error_rate: what to do" in page
    assert "lakehouse silver release --dataset events --file &#x27;events/x.csv&#x27;" in page
    assert "<td><code>events/x.csv</code></td><td>20</td><td>15</td><td>75.0%</td>" in page
    assert (
        "<td>late_arriving:fact_transactions.user_sk</td><td>3</td>"
        '<td><span class="warn">reported</span></td>'
    ) in page

    released = {
        **SUMMARY,
        "rows": {
            "silver": {
                "events": {
                    "rows_read": 60,
                    "rows_quarantined": {"released_by_operator": 20},
                    "quarantined_whole": [
                        {
                            "bronze_key": "events/x.csv",
                            "rows": 20,
                            "reason": "released_by_operator",
                            "detail": "released by ops at 2026-12-02T17:00:00+00:00",
                        }
                    ],
                }
            }
        },
    }
    page = report.render(released, MARTS)
    assert "Files quarantined whole at SILVER" in page
    assert (
        "<td>events</td><td><code>events/x.csv</code></td><td>20</td>"
        "<td>released_by_operator</td><td>released by ops at 2026-12-02T17:00:00+00:00</td>"
    ) in page


def test_a_summary_without_a_timeline_still_lists_stage_durations():
    old = {k: v for k, v in SUMMARY.items() if k not in ("timeline", "run_started_at")}
    page = report.render(old, MARTS)
    assert page.count("<svg") == 3 and "<td>bronze_to_silver</td><td>68.6</td>" in page


def test_the_flow_counts_come_from_the_summary():
    events, products = report.row_flow(SUMMARY)
    assert products["bronze_table_rows"] == 30 and products["silver_read"] is None
    assert events == {
        "dataset": "events",
        "raw_files": 6,
        "bronze_files": 5,
        "bronze_new": 5,
        "quarantined_files": 1,
        "silver_read": 3433,
        "silver_files": 5,
        "silver_rows": 3334,
        "quarantined_rows": 27,
        "reasons": {"invalid_timestamp": 20, "unknown_enum": 7},
        "bronze_table_rows": None,
    }


def test_an_operational_table_flows_from_the_db_through_silver_in_one_row():
    summary = json.loads(json.dumps(SUMMARY))
    summary["rows"]["silver"]["products"] = {
        "files": 2,
        "rows_read": 33,
        "scd2_new_versions": 32,
        "rows_quarantined": {"negative_amount": 1},
    }
    (row,) = [r for r in report.row_flow(summary) if r["dataset"] == "products"]
    assert (row["bronze_table_rows"], row["silver_read"], row["silver_rows"]) == (30, 33, 32)
    page = report.render(summary, MARTS)
    cells = re.search(r"<tr><td><b>products</b> \(operational DB\)</td>(.*?)</tr>", page)
    assert cells, "no operational row in the flow table"
    assert "30 rows" in cells[1] and "33 rows read from 2 db_to_bronze writes" in cells[1]
    assert "1 rows quarantined" in cells[1] and "32 rows merged" in cells[1]


def test_write_then_fetch_the_latest(tmp_path, monkeypatch):
    profile = load_profile("embedded")
    profile = profile.model_copy(
        update={"object_store": FilesystemStore(kind="filesystem", root=tmp_path)}
    )
    with pytest.raises(MissingObject):
        report.fetch(profile)
    monkeypatch.setattr(report, "read_marts", lambda _profile: MARTS)
    uri = report.write(profile, SUMMARY)
    assert uri.endswith("runs/manual__2026-11-26T10-00-00_00-00/report.html")
    key, body = report.fetch(profile)
    assert key == "manual__2026-11-26T10-00-00_00-00"
    assert body.decode() == report.render(SUMMARY, MARTS)
    assert report.fetch(profile, SUMMARY["run_id"])[1] == body


def test_a_failed_check_is_described_with_its_limit_and_remedy():
    from spark_jobs.checks import describe_failed

    text = describe_failed(
        [
            {
                "check": "error_rate",
                "observed": 0.25,
                "limit": 0.1,
                "dataset": "events",
                "passed": False,
                "remedy": "lakehouse silver release --dataset events --file 'k'",
            },
            {"check": "fk:fact_transactions.user_sk", "observed": 3, "passed": False},
        ]
    )
    assert text.splitlines() == [
        "events: error_rate observed 0.25 (limit 0.1); lakehouse silver release --dataset "
        "events --file 'k'",
        "fk:fact_transactions.user_sk observed 3",
    ]


def test_files_a_sensor_dag_ingested_before_the_run_count_as_new_in_bronze():
    """The first run after the sensors took every file: RAW 0, but BRONZE's new files are the
    ones SILVER read, whoever ingested them."""
    summary = json.loads(json.dumps(SUMMARY))
    summary["ingestion"][0].update(files_in=0, files_bronze=0, files_quarantine=0)
    events, _products = report.row_flow(summary)
    assert (events["raw_files"], events["bronze_files"], events["bronze_new"]) == (0, 0, 5)
    page = report.render(summary, MARTS)
    assert "5 new files<br><small>0 from this run's RAW, 0 quarantined" in page


def test_the_report_says_what_started_the_run():
    landed = {
        "run_type": "asset_triggered",
        "landings": {"bronze/events": 2, "bronze/users": 1},
        "settled_s": 31.5,
    }
    page = report.render({"run_id": "r", "failed_tasks": [], "trigger": landed}, {})
    assert "Started by landings in BRONZE: bronze/events &times;2, bronze/users &times;1" in page
    assert "settled after 31.5 s" in page
    skipped = {"run_type": "asset_triggered", "skipped": "nothing landed since <the cutoff>"}
    page = report.render({"run_id": "r", "failed_tasks": [], "trigger": skipped}, {})
    assert "skipped: nothing landed since &lt;the cutoff&gt;" in page
    manual = {"run_id": "r", "failed_tasks": [], "trigger": {"run_type": "manual"}}
    assert "Started by a manual trigger." in report.render(manual, {})
    assert "Started by" not in report.render({"run_id": "r", "failed_tasks": []}, {})

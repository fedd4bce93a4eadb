"""The master DAG through the real Airflow scheduler, dag-processor, triggerer and api-server
on the local profile: RAW -> BRONZE (files and the operational DB, in parallel) -> SILVER (Spark
on the standalone master) -> GOLD -> PostgreSQL, checked against the ground-truth manifests."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2
import pytest

from lakehouse import ingest, pipeline
from lakehouse.config import load_profile
from lakehouse.services import Stack
from lakehouse.storage import object_store

RUN_TIMEOUT_S = 1200


@pytest.fixture(scope="module")
def profile():
    prof = load_profile("local")
    status = Stack(prof).status()
    down = {n: s for n, s in status.items() if not s.startswith("healthy")}
    if down:
        pytest.fail(f"local stack not running: {down}; start it with `make services-up`")
    return prof


@pytest.fixture(scope="module")
def finished_run(profile, tmp_path_factory):
    thin_manifest, sample_manifest = pipeline.prepare_sample_run(
        profile, tmp_path_factory.mktemp("seed")
    )
    pipeline.wait_for_dag(profile)
    run_id = pipeline.trigger(profile)
    # Raises with the failed tasks' logs on failure or timeout.
    pipeline.wait_for_run(profile, run_id, timeout=RUN_TIMEOUT_S)
    return thin_manifest, sample_manifest, run_id


def _metrics(profile, run_id: str, stage: str) -> dict:
    store = object_store(profile)
    key = run_id.replace(":", "-").replace("+", "_")
    parts = [o.key for o in store.list(profile.zones.metrics, f"runs/{key}/{stage}/")
             if o.key.rsplit("/", 1)[1].startswith("part-")]  # fmt: skip
    assert len(parts) == 1, parts
    return json.loads(store.get(profile.zones.metrics, parts[0]))


def test_raw_is_empty_and_every_file_landed_where_expected(profile, finished_run):
    thin_manifest, sample_manifest, _ = finished_run
    store = object_store(profile)
    assert list(store.list(profile.zones.raw)) == []
    expected = {f"events/{name}": (f["expect"], f.get("reason"))
                for name, f in thin_manifest["files"].items()}  # fmt: skip
    expected.update({
        f"{f['dataset']}/{Path(f['path']).name}": (f["expect"], f.get("reason"))
        for f in sample_manifest["batches"][0]["files"] if f["dataset"] != "events"
    })  # fmt: skip
    log = [r for ds in ("events", "transactions", "users", "shipment_tracking")
           for r in ingest.read_log(store, profile.zones.bronze, ds)]  # fmt: skip
    got = {r["source_key"]: (r["outcome"], r["reason"]) for r in log}
    assert got == expected
    for record in log:
        bucket = getattr(profile.zones, record["outcome"])
        assert record["target_key"].startswith(f"{record['dataset']}/ingest_date=")
        assert store.exists(bucket, record["target_key"])


def test_operational_tables_reached_bronze(profile, finished_run):
    _, sample_manifest, run_id = finished_run
    metrics = _metrics(profile, run_id, "db_to_bronze")
    upserted = sample_manifest["operational"]["batches"][0]["upserted"]
    assert {t["table"]: t["rows_inserted"] for t in metrics["tables"]} == upserted


def test_warehouse_matches_the_manifest(profile, finished_run):
    thin_manifest, _, _ = finished_run
    wh = profile.warehouse
    with psycopg2.connect(wh.dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT event_date::text, event_type, event_count, unique_users "
            f"FROM {wh.schema_name}.daily_event_counts ORDER BY 1, 2"
        )
        cols = ["event_date", "event_type", "event_count", "unique_users"]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    conn.close()
    assert rows == thin_manifest["gold_daily_event_counts"]
    assert sum(r["event_count"] for r in rows) == thin_manifest["silver_rows"]


def test_silver_metrics_reconcile(profile, finished_run):
    thin_manifest, _, run_id = finished_run
    metrics = _metrics(profile, run_id, "bronze_to_silver")
    assert metrics["rows_in"] == thin_manifest["rows_in"]
    assert metrics["rows_silver"] == thin_manifest["silver_rows"]
    assert metrics["duplicates_dropped"] == thin_manifest["duplicates"]
    assert metrics["rows_quarantined"] == sum(thin_manifest["quarantined_rows"].values())

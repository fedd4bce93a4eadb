"""The master DAG through the real Airflow scheduler, dag-processor, triggerer and api-server
on the local profile: RAW -> BRONZE -> SILVER (Spark on the standalone master) -> GOLD ->
PostgreSQL, checked against the thin dataset's ground-truth manifest."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from lakehouse import pipeline
from lakehouse.config import load_profile
from lakehouse.services import Stack
from lakehouse.storage import object_store
from seed_data import thin

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
    seed_dir: Path = tmp_path_factory.mktemp("seed")
    manifest = thin.generate(seed_dir, seed=7)
    pipeline.reset_dataset(profile, "events")
    pipeline.drop_files(profile, seed_dir / "events", "events")
    pipeline.wait_for_dag(profile)
    run_id = pipeline.trigger(profile)
    # Raises with the failed tasks' logs on failure or timeout.
    pipeline.wait_for_run(profile, run_id, timeout=RUN_TIMEOUT_S)
    return manifest, run_id


def test_raw_is_empty_and_files_landed_where_expected(profile, finished_run):
    manifest, _ = finished_run
    store = object_store(profile)
    assert list(store.list(profile.zones.raw, "events/")) == []
    bronze = sorted(o.key.rsplit("/", 1)[1] for o in store.list(profile.zones.bronze, "events/"))
    quarantine = sorted(
        o.key.rsplit("/", 1)[1] for o in store.list(profile.zones.quarantine, "events/")
    )
    expect_bronze = sorted(n for n, f in manifest["files"].items() if f["expect"] == "bronze")
    expect_quarantine = [n for n, f in manifest["files"].items() if f["expect"] == "quarantine"]
    assert bronze == expect_bronze
    assert quarantine == sorted(expect_quarantine + [f"{n}.reason.json" for n in expect_quarantine])


def test_warehouse_matches_the_manifest(profile, finished_run):
    manifest, _ = finished_run
    wh = profile.warehouse
    with psycopg2.connect(wh.dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT event_date::text, event_type, event_count, unique_users "
            f"FROM {wh.schema_name}.daily_event_counts ORDER BY 1, 2"
        )
        rows = [
            dict(zip(["event_date", "event_type", "event_count", "unique_users"], r, strict=True))
            for r in cur.fetchall()
        ]
    conn.close()
    assert rows == manifest["gold_daily_event_counts"]
    assert sum(r["event_count"] for r in rows) == manifest["silver_rows"]


def test_silver_metrics_reconcile(profile, finished_run):
    manifest, run_id = finished_run
    store = object_store(profile)
    key = run_id.replace(":", "-").replace("+", "_")
    parts = [
        o.key
        for o in store.list(profile.zones.metrics, f"runs/{key}/bronze_to_silver/")
        if o.key.rsplit("/", 1)[1].startswith("part-")
    ]
    assert len(parts) == 1, parts
    import json

    metrics = json.loads(store.get(profile.zones.metrics, parts[0]))
    assert metrics["rows_in"] == manifest["rows_in"]
    assert metrics["rows_silver"] == manifest["silver_rows"]
    assert metrics["duplicates_dropped"] == manifest["duplicates"]
    assert metrics["rows_quarantined"] == sum(manifest["quarantined_rows"].values())

"""Idempotency without Airflow, on the reference sample taken to GOLD in process: a backfill
re-drop of an already processed batch (the same keys, and the same content under new keys)
changes nothing in BRONZE, and SILVER and GOLD rerun after it (nothing new: the same input)
are identical table by table; the warehouse load repeated gives identical tables.

Content is compared as a sha256 over each table's sorted rows (faults.content_hash)."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from faults import delta_hashes, gold_export_tables, warehouse_tables

from lakehouse import ingest, warehouse
from lakehouse.backends.storage import FilesystemObjectStore
from lakehouse.config.registry import load_registry
from lakehouse.platform.pipeline import SAMPLE
from lakehouse.warehouse import sql as warehouse_sql
from seed_data.generate import iter_raw_files

SPECS = {s["dataset"]: s for s in json.loads(load_registry().silver_specs_json())}
FILE_DATASETS = [d for d, s in SPECS.items() if s["source"] == "files"]  # the ingested ones


def lake_hashes(spark, lake) -> dict[str, dict]:
    return {
        zone: delta_hashes(spark, lake.root / getattr(lake.profile.zones, zone))
        for zone in ("silver", "gold")
    }


def test_a_backfill_redrop_and_the_silver_gold_rerun_change_nothing(spark, reference_gold):
    """The batch re-sent, ingested, then SILVER and GOLD rerun as the master DAG would: the
    rerun finds nothing new, so it is also the plain "rerun on the same input" case."""
    from harness.inprocess import publish_gold
    from spark_jobs.silver import batch as silver_batch

    lake = reference_gold
    zones = lake.profile.zones
    store = FilesystemObjectStore(lake.profile.object_store)
    before = lake_hashes(spark, lake)
    export_before = gold_export_tables(lake.profile)
    bronze_before = {o.key for o in store.list(zones.bronze) if ingest.LOG_PREFIX not in o.key}
    first = {
        r["source_key"]: r["outcome"]
        for ds in FILE_DATASETS
        for r in ingest.read_log(store, zones.bronze, ds)
    }

    started = time.monotonic()
    resent = {}
    for dataset, path in iter_raw_files(SAMPLE, 1):
        for key in (f"{dataset}/{path.name}", f"{dataset}/backfill-{path.name}"):
            store.put(zones.raw, key, path.read_bytes())
            resent[key] = f"{dataset}/{path.name}"
    outcomes = {
        f["source_key"]: f["outcome"]
        for ds in FILE_DATASETS
        for f in ingest.ingest_dataset(lake.profile, ds, store)["files"]
    }
    files = {
        ds: silver_batch.process_dataset(
            spark, spec, lake.uri("bronze"), lake.uri("silver"), lake.quarantine_rows, "backfill"
        )["files"]
        for ds, spec in SPECS.items()
    }
    publish_gold(spark, lake)
    seconds = time.monotonic() - started

    # Each re-sent file: the same key is already_ingested, a new key a counted duplicate; a
    # file quarantined the first time is quarantined again (its reason has not changed).
    expected = {
        key: "quarantine"
        if first[original] == "quarantine"
        else "already_ingested"
        if key == original
        else "duplicate"
        for key, original in resent.items()
    }
    assert outcomes == expected
    assert list(store.list(zones.raw)) == []
    assert {
        o.key for o in store.list(zones.bronze) if ingest.LOG_PREFIX not in o.key
    } == bronze_before
    assert files == dict.fromkeys(SPECS, 0)
    after = lake_hashes(spark, lake)
    assert sorted(after["gold"]) == sorted(warehouse_sql.table_defs())
    assert after == before
    assert gold_export_tables(lake.profile) == export_before
    print(
        {
            "resent_files": len(resent),
            "outcomes": dict(Counter(outcomes.values())),
            "silver_tables": len(before["silver"]),
            "gold_tables": len(before["gold"]),
            "gold_rows": sum(n for n, _ in before["gold"].values()),
            "seconds": round(seconds, 1),
        }
    )


@pytest.fixture
def reload_profile(reference_gold, throwaway_pg):
    """The reference GOLD with a schema of its own on the throwaway warehouse."""
    wh = throwaway_pg.profile.warehouse.model_copy(update={"schema_name": "rel_reload"})
    profile = reference_gold.profile.model_copy(update={"warehouse": wh})
    warehouse.bootstrap(profile)
    return profile


def test_a_repeated_warehouse_load_gives_identical_tables(reload_profile):
    wh = reload_profile.warehouse
    first_report = warehouse.load(reload_profile)
    first = warehouse_tables(reload_profile, wh.analyst)
    started = time.monotonic()
    second_report = warehouse.load(reload_profile)
    seconds = time.monotonic() - started
    assert (
        warehouse_tables(reload_profile, wh.analyst) == first == gold_export_tables(reload_profile)
    )
    assert {n: t["figures"] for n, t in second_report.tables.items()} == {
        n: t["figures"] for n, t in first_report.tables.items()
    }
    print(
        {"tables": len(first), "rows": sum(map(len, first.values())), "reload_s": round(seconds, 2)}
    )


def test_the_same_bronze_files_through_silver_twice_change_nothing(spark, reference_gold):
    """SILVER's processed-files bookmark lost, so SILVER reads every bronze file it has already
    merged once more: the latest-wins MERGE, the SCD2 MERGE of `users` and the quarantine
    append take nothing twice. Every SILVER table (users' history included) and every
    quarantine table keeps its exact rows; nothing is counted as inserted or as a new version."""
    import shutil

    from spark_jobs.silver import batch as silver_batch
    from spark_jobs.silver.bookmark import PROCESSED

    lake = reference_gold
    silver_dir = lake.root / lake.profile.zones.silver
    quarantine_dir = lake.root / lake.profile.zones.quarantine / "rows"
    silver_before = delta_hashes(spark, silver_dir)
    quarantine_before = delta_hashes(spark, quarantine_dir)
    bookmark = silver_dir / PROCESSED
    saved = bookmark.with_name("processed_files.kept-by-test")
    shutil.move(bookmark, saved)
    try:
        results = {
            ds: silver_batch.process_dataset(
                spark, spec, lake.uri("bronze"), lake.uri("silver"), lake.quarantine_rows, "again"
            )
            for ds, spec in SPECS.items()
        }
    finally:  # the session's later tests see the bookmark the reference run wrote
        shutil.rmtree(bookmark, ignore_errors=True)
        shutil.move(saved, bookmark)

    for ds, result in results.items():
        assert result["files"] > 0 and result["rows_read"] > 0, (ds, result)  # read again
        if "scd2_new_versions" in result:
            assert result["scd2_new_versions"] == 0, (ds, result)
        else:
            assert result["rows_inserted"] == 0, (ds, result)
    assert delta_hashes(spark, silver_dir) == silver_before
    assert delta_hashes(spark, quarantine_dir) == quarantine_before

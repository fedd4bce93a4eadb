"""Reliability fixtures: a lake of its own (fresh buckets) on the running S3 server, so injected
faults never touch the lake other suites use; a throwaway PostgreSQL cluster that may be
restarted at will; part of the reference sample taken to GOLD in process, its operational
source on that throwaway server, and an earlier GOLD (half of every table) to load before it."""

from __future__ import annotations

import time
import uuid

import pytest
from faults import ThrowawayPostgres, write_export

from lakehouse import warehouse
from lakehouse.backends.storage import object_store
from lakehouse.config import FilesystemStore
from lakehouse.warehouse import sql as warehouse_sql


@pytest.fixture
def lake(s3_profile):
    tag = uuid.uuid4().hex[:8]
    zones = {z: f"rel-{tag}-{z}" for z in s3_profile.zones.model_dump()}
    profile = s3_profile.model_copy(update={"zones": s3_profile.zones.model_validate(zones)})
    store = object_store(profile)
    for bucket in profile.bucket_names:
        store.ensure_bucket(bucket)
    yield profile, store
    s3 = store.client
    for bucket in profile.bucket_names:
        # Every key, directory markers included, children before their parents.
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        for key in sorted(keys, reverse=True):
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)


@pytest.fixture(scope="session")
def throwaway_pg(local_profile):
    """A PostgreSQL cluster of this session only (its own data directory and port), bootstrapped
    like the local one. The shared server on the profile's port is never restarted."""
    server = ThrowawayPostgres(local_profile)
    try:
        server.start()
        server.bootstrap()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def reference_gold(spark, throwaway_pg, tmp_path_factory):
    """Batch 1 of the reference sample taken RAW -> BRONZE -> SILVER -> GOLD (Delta tables and
    Parquet exports) on a filesystem lake by the jobs' own functions (harness.inprocess),
    its operational batch through the throwaway PostgreSQL. One batch: each more costs a
    minute or more on 2 cores and proves nothing more here (the whole sample is reconciled
    by tests/integration/test_silver_reference.py)."""
    from harness.inprocess import lake_at, publish_gold, to_silver
    from lakehouse.platform.pipeline import SAMPLE

    started = time.monotonic()
    lake = lake_at(tmp_path_factory.mktemp("lake"))
    to_silver(spark, lake, SAMPLE, [1], throwaway_pg.profile.source_db)
    publish_gold(spark, lake)
    lake.seconds["total"] = time.monotonic() - started
    print({"reference_gold_s": {k: round(v, 1) for k, v in lake.seconds.items()}})
    return lake


@pytest.fixture(scope="session")
def gold_profile(reference_gold, throwaway_pg):
    """The reference GOLD with the throwaway server as its warehouse."""
    return reference_gold.profile.model_copy(update={"warehouse": throwaway_pg.profile.warehouse})


@pytest.fixture(scope="session")
def previous_gold(gold_profile, tmp_path_factory):
    """An earlier GOLD: the first half of every table's rows, as its own export."""
    root = tmp_path_factory.mktemp("previous-gold")
    profile = gold_profile.model_copy(
        update={"object_store": FilesystemStore(kind="filesystem", root=root)}
    )
    for name in sorted(warehouse_sql.table_defs()):
        data = warehouse.read_export(gold_profile, name)
        folder = root / profile.zones.gold / warehouse.EXPORT_PREFIX / name
        half = data.slice(0, max(1, data.num_rows // 2))
        write_export(folder, warehouse_sql.table_defs()[name], half)
    return profile

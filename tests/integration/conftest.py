"""Integration fixtures: the reference sample taken through the layers in process, and Spark on
the S3 server. The service fixtures (local_profile, s3_profile, pg_profile, ...) are in
tests/conftest.py: a missing service fails the test with the command to start it."""

from __future__ import annotations

import uuid

import pytest

from lakehouse.config import Profile


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


# ----------------------------------------------------------------------------- reference lake
@pytest.fixture(scope="session")
def reference_lake(spark, pg_profile, tmp_path_factory):
    """The committed reference sample taken through BRONZE and SILVER, batch by batch, on a
    filesystem lake by the jobs' own functions (harness.inprocess): its files through
    ingestion and bronze_to_silver, its operational batches through PostgreSQL and JDBC."""
    from harness.inprocess import lake_at, to_silver
    from lakehouse.platform.pipeline import SAMPLE

    lake = lake_at(tmp_path_factory.mktemp("lake"))
    return to_silver(spark, lake, SAMPLE, [1, 2, 3], pg_profile.source_db)


@pytest.fixture(scope="session")
def silver_run(spark, reference_lake):
    return (
        spark,
        reference_lake.per_batch,
        reference_lake.uri("silver"),
        reference_lake.quarantine_rows,
    )


@pytest.fixture(scope="session")
def gold(silver_run, reference_lake):
    """Every gold table built from the reference silver (lazy DataFrames, not published)."""
    from harness.inprocess import build_gold

    spark = silver_run[0]
    return spark, build_gold(spark, reference_lake)


@pytest.fixture(scope="session")
def gold_export(gold, reference_lake) -> Profile:
    """GOLD published (Delta + Parquet export) into the reference lake; returns its profile."""
    from harness.inprocess import publish_gold

    spark, tables = gold
    return publish_gold(spark, reference_lake, tables).profile

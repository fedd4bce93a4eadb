"""Integration fixtures: the running native services of the local profile (started by
`make up-native` / .ci/run). Missing services fail the test with the command to start them."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest

from lakehouse.config import Profile, load_profile
from lakehouse.services import Stack


def require_services(profile: Profile, names: list[str]) -> None:
    status = Stack(profile).status()
    down = {n: s for n, s in status.items() if n in names and not s.startswith("healthy")}
    if down:
        pytest.fail(
            f"services not running for profile {profile.name}: {down}. Start them with "
            f"`make services-up` (or `.venv/bin/lakehouse services start`)."
        )


@pytest.fixture(scope="session")
def local_profile() -> Profile:
    return load_profile("local")


@pytest.fixture(scope="session")
def s3_profile(local_profile: Profile) -> Profile:
    require_services(local_profile, ["s3"])
    return local_profile


@pytest.fixture(scope="session")
def pg_profile(local_profile: Profile) -> Profile:
    require_services(local_profile, ["postgres"])
    return local_profile


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def s3_spark(s3_profile, spark):
    """The test SparkSession pointed at the S3 server with the profile's S3A settings.

    S3A reads its settings per filesystem instance, so they are set on the running context's
    Hadoop configuration rather than at session start.
    """
    from lakehouse.spark_conf import spark_conf

    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in spark_conf(s3_profile).items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key.removeprefix("spark.hadoop."), value)
    return spark


# ----------------------------------------------------------------------------- reference lake
@pytest.fixture(scope="session")
def reference_lake(spark, pg_profile, tmp_path_factory):
    """The committed reference sample taken through BRONZE and SILVER, batch by batch, on a
    filesystem lake (the embedded profile's layout) by the jobs' own functions: its files
    through ingestion and bronze_to_silver, its operational batches loaded into PostgreSQL (a
    schema of their own) and read by db_to_bronze over JDBC."""
    import psycopg2

    from lakehouse import ingest
    from lakehouse.pipeline import SAMPLE, drop_reference_batch
    from lakehouse.registry import load_registry
    from lakehouse.storage import FilesystemObjectStore
    from seed_data.operational import load_batch
    from spark_jobs import bronze_to_silver as job
    from spark_jobs import db_to_bronze

    registry = load_registry()
    specs = {s["dataset"]: s for s in json.loads(registry.silver_specs_json())}
    db, source_schema = pg_profile.source_db, "it_reference_src"
    tables = [{**t, "schema": source_schema} for t in json.loads(registry.source_tables_json())]
    jdbc = {"user": db.user, "password": db.password, "driver": "org.postgresql.Driver"}

    def drop_source() -> None:
        with psycopg2.connect(db.dsn()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{source_schema}" CASCADE')
        conn.close()

    drop_source()
    root = tmp_path_factory.mktemp("lake")
    profile = load_profile("embedded")
    cfg = profile.object_store.model_copy(update={"root": root})
    profile = profile.model_copy(update={"object_store": cfg})
    store = FilesystemObjectStore(cfg)
    zones = profile.zones
    buckets = (zones.bronze, zones.silver, zones.quarantine + "/rows", zones.gold)
    bronze, silver, quarantine, gold = (f"file://{root}/{b}" for b in buckets)
    per_batch: list[dict] = []
    for batch in (1, 2, 3):
        drop_reference_batch(profile, SAMPLE, batch, store)
        for ds in specs:
            ingest.ingest_dataset(profile, ds, store)
        load_batch(db.dsn(), SAMPLE / f"batch-{batch:02d}", source_schema)
        for table in tables:
            db_to_bronze.ingest_table(spark, db.jdbc_url(), jdbc, table, bronze, f"b{batch}")
        per_batch.append({
            ds: job.process_dataset(spark, spec, bronze, silver, quarantine, f"b{batch}")
            for ds, spec in specs.items()
        })  # fmt: skip
    drop_source()
    return SimpleNamespace(
        root=root, profile=profile, specs=specs, per_batch=per_batch,
        bronze=bronze, silver=silver, quarantine=quarantine, gold=gold,
    )  # fmt: skip


@pytest.fixture(scope="session")
def silver_run(spark, reference_lake):
    return spark, reference_lake.per_batch, reference_lake.silver, reference_lake.quarantine


@pytest.fixture(scope="session")
def gold(silver_run, reference_lake):
    """Every gold table built from the reference silver (lazy DataFrames, not published)."""
    from spark_jobs import silver_to_gold

    spark, _, silver, _ = silver_run
    return spark, silver_to_gold.build_all(spark, silver, reference_lake.bronze)


@pytest.fixture(scope="session")
def gold_export(gold, reference_lake) -> Profile:
    """GOLD published (Delta + Parquet export) into the reference lake; returns its profile."""
    from spark_jobs import silver_to_gold

    _, tables = gold
    for name, df in tables.items():
        silver_to_gold.publish(df, reference_lake.gold, f"{reference_lake.gold}/_export", name)
    return reference_lake.profile

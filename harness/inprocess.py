"""The pipeline's layers run in this process, on a filesystem lake and one SparkSession: the
jobs' own functions in the master DAG's order, without Airflow or spark-submit.

For the integration tests and the benchmarks, which need a real lake built from a generated
dataset (seed_data) quickly and step by step; the DAGs remain the way to run the pipeline.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.config import FilesystemStore, Profile, load_profile


@dataclass
class Lake:
    root: Path
    profile: Profile  # the embedded profile's layout, rooted at `root`
    per_batch: list[dict] = field(default_factory=list)  # bronze_to_silver metrics per batch
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage

    def uri(self, zone: str) -> str:
        return f"file://{self.root}/{getattr(self.profile.zones, zone)}"

    @property
    def quarantine_rows(self) -> str:
        return self.uri("quarantine") + "/rows"


def lake_at(root: Path) -> Lake:
    profile = load_profile("embedded")
    store = FilesystemStore(kind="filesystem", root=root)
    return Lake(root, profile.model_copy(update={"object_store": store}))


def to_silver(spark, lake: Lake, data: Path, batches: list[int], source_db=None) -> Lake:
    """RAW -> BRONZE -> SILVER, batch by batch: each batch's files are dropped into RAW and
    ingested; with `source_db` (a PostgresDB) its operational upserts are loaded into schema
    `it_reference_src` and read by db_to_bronze over JDBC."""
    import psycopg2

    from lakehouse import ingest
    from lakehouse.backends.storage import FilesystemObjectStore
    from lakehouse.config.registry import load_registry
    from lakehouse.platform.pipeline import drop_reference_batch
    from seed_data.operational import load_batch
    from spark_jobs import db_to_bronze
    from spark_jobs.silver import batch as silver_batch

    registry = load_registry()
    specs = {s["dataset"]: s for s in json.loads(registry.silver_specs_json())}
    source_schema = "it_reference_src"
    tables = [{**t, "schema": source_schema} for t in json.loads(registry.source_tables_json())]
    store = FilesystemObjectStore(lake.profile.object_store)

    def drop_source() -> None:
        with psycopg2.connect(source_db.dsn()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{source_schema}" CASCADE')
        conn.close()

    if source_db is not None:
        drop_source()
    bronze, silver = lake.uri("bronze"), lake.uri("silver")
    for batch in batches:
        started = time.monotonic()
        drop_reference_batch(lake.profile, data, batch, store)
        for dataset in specs:
            ingest.ingest_dataset(lake.profile, dataset, store)
        if source_db is not None:
            jdbc = {
                "user": source_db.user,
                "password": source_db.password,
                "driver": "org.postgresql.Driver",
            }
            load_batch(source_db.dsn(), data / f"batch-{batch:02d}", source_schema)
            db_to_bronze.ingest_tables(
                spark, source_db.jdbc_url(), jdbc, tables, bronze, f"b{batch}"
            )
        lake.seconds["bronze"] = lake.seconds.get("bronze", 0) + time.monotonic() - started
        started = time.monotonic()
        lake.per_batch.append(
            {
                ds: silver_batch.process_dataset(
                    spark, spec, bronze, silver, lake.quarantine_rows, f"b{batch}"
                )
                for ds, spec in specs.items()
            }
        )
        lake.seconds["silver"] = lake.seconds.get("silver", 0) + time.monotonic() - started
    if source_db is not None:
        drop_source()
    return lake


def pii_key() -> bytes:
    """The local stacks' pseudonymisation key (.env.example, or .env / the environment)."""
    return str(load_profile("embedded").pseudonymisation.key).encode()


def build_gold(spark, lake: Lake):
    """Every gold table as lazy DataFrames (not published)."""
    from spark_jobs import silver_to_gold

    return silver_to_gold.build_all(spark, lake.uri("silver"), pii_key())


def publish_gold(spark, lake: Lake, tables=None) -> Lake:
    """GOLD as the job publishes it: Delta tables and the Parquet exports under gold/_export."""
    from lakehouse.warehouse.sql import figures_spec_json
    from spark_jobs import silver_to_gold

    started = time.monotonic()
    gold = lake.uri("gold")
    spec = json.loads(figures_spec_json())
    for name, df in (tables or build_gold(spark, lake)).items():
        silver_to_gold.publish(df, gold, f"{gold}/_export", name, spec[name])
    lake.seconds["gold"] = time.monotonic() - started
    return lake

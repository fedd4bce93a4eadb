"""Operational PostgreSQL -> BRONZE Delta over JDBC and S3A: a full first load, then exactly the
rows inserted and updated between two batches, with the high-water mark advanced."""

from __future__ import annotations

import json

import psycopg2
import pytest

from seed_data.generate import generate
from seed_data.operational import load_batch
from spark_jobs import db_to_bronze


@pytest.fixture
def source(pg_profile, run_id, tmp_path):
    schema = f"it_src_{run_id}"
    manifest = generate(tmp_path / "data", scale=0.01, seed=11)
    yield pg_profile.source_db, schema, manifest, tmp_path / "data"
    with psycopg2.connect(pg_profile.source_db.dsn()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


def test_full_then_incremental(s3_spark, s3_profile, source, run_id):
    db, schema, manifest, data = source
    url = db.jdbc_url()
    props = {"user": db.user, "password": db.password, "driver": "org.postgresql.Driver"}
    bronze_root = s3_profile.spark_uri("bronze", f"_it/{run_id}").rstrip("/")
    specs = [
        {
            "table": "products",
            "schema": schema,
            "mode": "incremental",
            "watermark": "updated_at",
            "key": ["product_id"],
            "read_partitions": 1,
        },
        {
            "table": "shipments",
            "schema": schema,
            "mode": "incremental",
            "watermark": "updated_at",
            "key": ["shipment_id"],
            "read_partitions": 3,
        },
        {
            "table": "inventory",
            "schema": schema,
            "mode": "full",
            "watermark": None,
            "key": ["product_id", "warehouse_id"],
            "read_partitions": 1,
        },
    ]
    ops = manifest["operational"]["batches"]

    load_batch(db.dsn(), data / "batch-01", schema)
    first = {
        s["table"]: db_to_bronze.ingest_table(s3_spark, url, props, s, bronze_root, "b1")
        for s in specs
    }
    for table in ("products", "shipments"):
        assert first[table]["rows_inserted"] == ops[0]["upserted"][table]
        assert first[table]["since"] is None and first[table]["watermark"]

    load_batch(db.dsn(), data / "batch-02", schema)
    second = {
        s["table"]: db_to_bronze.ingest_table(s3_spark, url, props, s, bronze_root, "b2")
        for s in specs
    }
    for table in ("products", "shipments"):
        # >= the mark re-reads the rows at the mark itself; the MERGE keeps them out.
        assert second[table]["rows_inserted"] == ops[1]["upserted"][table], table
        assert second[table]["since"] == first[table]["watermark"]
        assert second[table]["watermark"] > first[table]["watermark"]

    shipments = s3_spark.read.format("delta").load(f"{bronze_root}/shipments")
    assert shipments.count() == ops[0]["upserted"]["shipments"] + ops[1]["upserted"]["shipments"]
    assert {"_ingested_at", "_batch_id", "_source"} <= set(shipments.columns)
    assert {r._batch_id for r in shipments.select("_batch_id").distinct().collect()} == {"b1", "b2"}
    inventory = s3_spark.read.format("delta").load(f"{bronze_root}/inventory")
    with psycopg2.connect(db.dsn()) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {schema}.inventory")
        assert inventory.count() == cur.fetchone()[0]  # a full snapshot, not an append
    conn.close()

    # A rerun with nothing new inserts nothing and keeps the mark.
    again = db_to_bronze.ingest_table(s3_spark, url, props, specs[0], bronze_root, "b3")
    assert again["rows_inserted"] == 0
    assert again["since"] == second["products"]["watermark"]


def test_bad_source_rows_are_quarantined_and_prices_kept_as_history(
    s3_spark, s3_profile, source, run_id
):
    """The operational tables through SILVER by the registry's specs: a repricing becomes a
    new SCD2 version, a negative price and an unknown shipment status (rows PostgreSQL's
    constraints let through) are quarantined with their reason codes and reach neither SILVER
    table, and a rerun of db_to_bronze under a batch id SILVER already processed is still
    read (each write is its own bookmark entry)."""
    from lakehouse.config.registry import load_registry
    from spark_jobs.silver.batch import process_dataset

    db, schema, manifest, data = source
    url = db.jdbc_url()
    props = {"user": db.user, "password": db.password, "driver": "org.postgresql.Driver"}
    registry = load_registry()
    tables = [{**t, "schema": schema} for t in json.loads(registry.source_tables_json())]
    specs = {s["dataset"]: s for s in json.loads(registry.silver_specs_json())}
    root = f"_it/{run_id}"
    bronze, silver = (s3_profile.spark_uri(z, root).rstrip("/") for z in ("bronze", "silver"))
    quarantine = s3_profile.spark_uri("quarantine", root).rstrip("/")

    def to_silver(batch_id: str) -> dict:
        db_to_bronze.ingest_tables(s3_spark, url, props, tables, bronze, batch_id)
        return {
            t: process_dataset(s3_spark, specs[t], bronze, silver, quarantine, batch_id)
            for t in ("products", "inventory", "shipments")
        }

    def execute(sql: str) -> None:
        with psycopg2.connect(db.dsn()) as conn, conn.cursor() as cur:
            cur.execute(sql.format(s=schema))
        conn.close()

    load_batch(db.dsn(), data / "batch-01", schema)
    first = to_silver("b1")
    products = manifest["operational"]["batches"][0]["upserted"]["products"]
    assert first["products"]["rows_read"] == products
    assert first["products"]["scd2_new_versions"] == products
    assert not first["products"]["rows_quarantined"]

    # Every product repriced and every shipment touched, one bad row in each (a batch is
    # judged by its error rate: one bad row alone would be over max_error_rate and fail it).
    execute(
        "UPDATE {s}.products SET updated_at = now(), "
        "unit_price = CASE WHEN product_id = 'p-00002' THEN -5 ELSE unit_price * 2 END;"
        "UPDATE {s}.shipments SET updated_at = now(), status = CASE WHEN shipment_id = "
        "(SELECT min(shipment_id) FROM {s}.shipments) THEN 'lost' ELSE status END"
    )
    second = to_silver("b2")
    assert second["products"]["rows_read"] == products
    assert second["products"]["rows_quarantined"] == {"negative_amount": 1}
    assert second["products"]["scd2_new_versions"] == products - 1
    assert second["shipments"]["rows_quarantined"] == {"unknown_enum": 1}
    bad = s3_spark.read.format("delta").load(f"{quarantine}/products").collect()
    assert [(r.product_id, r.unit_price, r.quarantine_reason) for r in bad] == [
        ("p-00002", "-5.00", "negative_amount")
    ]
    assert bad[0].source_file.startswith("products@b2@")
    history = s3_spark.read.format("delta").load(f"{silver}/products")
    p1 = history.where("product_id = 'p-00001'").orderBy("valid_from").collect()
    assert len(p1) == 2 and [r.is_current for r in p1] == [False, True]
    assert p1[1].unit_price == 2 * p1[0].unit_price and p1[0].valid_to == p1[1].valid_from
    p2 = history.where("product_id = 'p-00002'").collect()
    assert len(p2) == 1 and p2[0].unit_price > 0  # the bad price never became a version
    shipments = s3_spark.read.format("delta").load(f"{silver}/shipments")
    assert shipments.where("status = 'lost'").count() == 0

    execute(
        "UPDATE {s}.products SET unit_price = 1.23, updated_at = now() WHERE product_id = 'p-00003'"
    )
    rerun = to_silver("b2")  # the same batch id again, a new write
    assert rerun["products"]["rows_read"] == 1 and rerun["products"]["scd2_new_versions"] == 1
    assert to_silver("b3")["products"]["rows_read"] == 0

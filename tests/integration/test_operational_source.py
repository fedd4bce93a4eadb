"""The generated operational source loaded batch by batch into the real PostgreSQL: final row
counts match the manifest, and each batch leaves exactly its upserts behind the updated_at
watermark, so incremental ingestion has work to do."""

from __future__ import annotations

import psycopg2
import pytest

from seed_data.generate import generate
from seed_data.operational import load_batch


@pytest.fixture
def source(pg_profile, run_id):
    schema = f"it_shop_{run_id}"
    yield pg_profile.source_db.dsn(), schema
    with psycopg2.connect(pg_profile.source_db.dsn()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


def _count(dsn: str, sql: str) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
        value = cur.fetchone()[0]
    conn.close()
    return value


def test_batches_upsert_with_advancing_watermark(source, tmp_path):
    dsn, schema = source
    manifest = generate(tmp_path / "data", scale=0.01, seed=42)
    for entry in manifest["operational"]["batches"]:
        batch = entry["batch"]
        day = manifest["batches"][batch - 1]["date"]
        load_batch(dsn, tmp_path / "data" / f"batch-{batch:02d}", schema)
        for table, upserted in entry["upserted"].items():
            changed = _count(
                dsn, f"SELECT count(*) FROM {schema}.{table} WHERE updated_at >= '{day}'"
            )
            assert changed == upserted, (batch, table)
    for table, rows in manifest["operational"]["final_rows"].items():
        assert _count(dsn, f"SELECT count(*) FROM {schema}.{table}") == rows, table
    delivered = _count(dsn, f"SELECT count(*) FROM {schema}.shipments WHERE status = 'delivered'")
    assert delivered > 0
    # Reloading a batch is an idempotent upsert: no new rows.
    load_batch(dsn, tmp_path / "data" / "batch-03", schema)
    assert (
        _count(dsn, f"SELECT count(*) FROM {schema}.products")
        == manifest["operational"]["final_rows"]["products"]
    )

"""The operational ("shop" OLTP) source: table definitions, the per-batch upsert files the
generator writes, and loading them into PostgreSQL (COPY into a temp table, then upsert)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

TABLE_COLUMNS = {
    "products": ["product_id", "name", "category", "unit_price", "updated_at"],
    "inventory": ["product_id", "warehouse_id", "quantity_on_hand", "updated_at"],
    "shipments": [
        "shipment_id",
        "transaction_id",
        "carrier",
        "shipped_at",
        "delivered_at",
        "status",
        "shipping_cost",
        "created_at",
        "updated_at",
    ],
}
PRIMARY_KEYS = {
    "products": ["product_id"],
    "inventory": ["product_id", "warehouse_id"],
    "shipments": ["shipment_id"],
}
DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.products (
    product_id TEXT PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL,
    unit_price NUMERIC(12, 2) NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.inventory (
    product_id TEXT NOT NULL REFERENCES {schema}.products, warehouse_id TEXT NOT NULL,
    quantity_on_hand INTEGER NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (product_id, warehouse_id));
CREATE TABLE IF NOT EXISTS {schema}.shipments (
    shipment_id TEXT PRIMARY KEY, transaction_id TEXT NOT NULL, carrier TEXT NOT NULL,
    shipped_at TIMESTAMPTZ, delivered_at TIMESTAMPTZ, status TEXT NOT NULL,
    shipping_cost NUMERIC(10, 2) NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS products_updated_at ON {schema}.products (updated_at);
CREATE INDEX IF NOT EXISTS inventory_updated_at ON {schema}.inventory (updated_at);
CREATE INDEX IF NOT EXISTS shipments_updated_at ON {schema}.shipments (updated_at);
"""


def write_upserts(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})


def load_batch(dsn: str, batch_dir: Path, schema: str = "shop") -> dict[str, int]:
    """Apply one batch's upserts to `schema` in one transaction; returns rows per table."""
    import psycopg2

    counts = {}
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(DDL.format(schema=schema))
            for table, columns in TABLE_COLUMNS.items():  # parents before children
                path = batch_dir / "operational" / f"{table}.csv"
                if not path.is_file():
                    continue
                cols = ", ".join(columns)
                keys = ", ".join(PRIMARY_KEYS[table])
                updates = ", ".join(
                    f"{c} = EXCLUDED.{c}" for c in columns if c not in PRIMARY_KEYS[table]
                )
                cur.execute(
                    f"CREATE TEMP TABLE stage_{table} (LIKE {schema}.{table}) ON COMMIT DROP"
                )
                with open(path, encoding="utf-8") as fh:
                    cur.copy_expert(
                        f"COPY stage_{table} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true)", fh
                    )
                cur.execute(
                    f"INSERT INTO {schema}.{table} ({cols}) SELECT {cols} FROM stage_{table} "
                    f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
                )
                counts[table] = cur.rowcount
    finally:
        conn.close()
    return counts

"""Row-for-row comparison of the SILVER and GOLD tables two engines built from the same BRONZE
files: the Spark jobs' tables (GOLD's Parquet exports; SILVER's Delta tables written out as
Parquet) against the DuckDB peer's (benchmarks/peer_duckdb.py), and of the quarantined rows per
source file and reason. Each difference names the table, the row's key and both values.

Surrogate keys are each engine's own hash, so `user_sk` is compared by what it points at: the
(user_id, valid_from) of the `dim_users` version it references (or the unknown member, -1).
Money is compared as exact decimals; floating-point figures (percentiles, rates) to six
decimal places; timestamps as UTC instants.

Benchmark-only code: the pipeline never imports it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

# Each table's key: the columns a row is found by in the other engine's table.
KEYS = {
    "dim_users": ("user_id", "valid_from"),
    "user_pii": ("user_id", "valid_from"),
    "fact_events": ("event_id",),
    "fact_transactions": ("transaction_id",),
    "dim_date": ("date_key",),
    "dim_country": ("country_code",),
    "dim_status": ("status",),
    "fact_user_activity": ("user_id", "activity_date"),
    "daily_event_counts": ("event_date", "event_type"),
    "daily_revenue": ("revenue_date", "currency"),
    "daily_active_users": ("activity_date",),
    "user_ltv": ("user_id",),
    "sales_daily": ("sales_date",),
    "customer_360": ("user_id",),
    "dim_product": ("product_id",),
    "fact_shipments": ("shipment_id",),
    "inventory_health": ("product_id", "warehouse_id"),
    "delivery_performance": ("carrier",),
    "product_sales_daily": ("sales_date", "product_id"),
}
# SILVER's business keys (docs/datasets.md); users by version. Compared on the peer's columns
# (the contract's), less `source_file`: of exact duplicates in two files, which file's copy is
# kept is not part of the contract. Spark's own bookkeeping columns are not compared.
SILVER_KEYS = {
    "events": ("event_id",),
    "transactions": ("transaction_id",),
    "shipment_tracking": ("device_id", "reading_ts"),
    "users": ("user_id", "valid_from"),
}
UNKNOWN_SK = -1
MAX_REPORTED = 10  # differences reported per table


def _value(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    return v  # decimals compare by value whatever their scale (12.30 == 12.3)


def read(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def _resolve_user_sk(tables: dict[str, list[dict]]) -> None:
    """Replace user_sk by the (user_id, valid_from) of the dim_users row it references."""
    versions = {r["user_sk"]: (r["user_id"], _value(r["valid_from"])) for r in tables["dim_users"]}
    versions[UNKNOWN_SK] = "unknown member"
    for name in ("dim_users", "fact_transactions"):
        for row in tables.get(name, []):
            row["user_sk"] = versions.get(row["user_sk"], f"dangling {row['user_sk']}")


def compare_table(
    name: str, spark_rows: list[dict], peer_rows: list[dict], key: tuple[str, ...] | None = None
) -> list[str]:
    key = key or KEYS[name]
    spark_rows = [{k: _value(v) for k, v in row.items()} for row in spark_rows]
    peer_rows = [{k: _value(v) for k, v in row.items()} for row in peer_rows]
    if not spark_rows and not peer_rows:
        return []
    spark_cols = list(spark_rows[0]) if spark_rows else []
    peer_cols = list(peer_rows[0]) if peer_rows else []
    if spark_rows and peer_rows and set(spark_cols) != set(peer_cols):
        return [f"{name}: columns differ: spark {spark_cols}, peer {peer_cols}"]
    out: list[str] = []
    indexed = []
    for engine, rows in (("spark", spark_rows), ("peer", peer_rows)):
        by_key: dict[tuple, dict] = {}
        for row in rows:
            k = tuple(row[c] for c in key)
            if k in by_key:
                out.append(f"{name}: {engine} has key {k} twice")
            by_key[k] = row
        indexed.append(by_key)
    spark, peer = indexed
    for k in sorted(spark.keys() - peer.keys(), key=str):
        out.append(f"{name} {dict(zip(key, k, strict=True))}: only in spark: {spark[k]}")
    for k in sorted(peer.keys() - spark.keys(), key=str):
        out.append(f"{name} {dict(zip(key, k, strict=True))}: only in the peer: {peer[k]}")
    for k in sorted(spark.keys() & peer.keys(), key=str):
        for col in spark_cols:
            if spark[k][col] != peer[k][col]:
                out.append(
                    f"{name} {dict(zip(key, k, strict=True))}.{col}: "
                    f"spark {spark[k][col]!r}, peer {peer[k][col]!r}"
                )
    if len(out) > MAX_REPORTED:
        out = [*out[:MAX_REPORTED], f"{name}: {len(out) - MAX_REPORTED} more differences"]
    return out


def compare_gold(spark_export: Path, peer_dir: Path, names: list[str]) -> list[str]:
    """Differences between Spark's GOLD exports (`spark_export/<table>/`) and the peer's
    files (`peer_dir/<table>.parquet`) for `names`; empty when every row agrees."""
    spark = {n: read(spark_export / n) for n in names}
    peer = {n: read(peer_dir / f"{n}.parquet") for n in names}
    if "dim_users" in names:
        _resolve_user_sk(spark)
        _resolve_user_sk(peer)
    return [d for n in names for d in compare_table(n, spark[n], peer[n])]


def compare_silver(spark_dir: Path, peer_dir: Path, names: list[str]) -> list[str]:
    """Differences between Spark's SILVER tables (`spark_dir/<dataset>/`, Parquet) and the
    peer's (`peer_dir/<dataset>.parquet`), then between their quarantined rows counted per
    (source file name, reasons); empty when both agree."""
    out: list[str] = []
    for name in names:
        peer = pq.read_table(peer_dir / f"{name}.parquet")
        columns = [c for c in peer.column_names if c != "source_file"]
        spark = pq.read_table(spark_dir / name)
        missing = sorted(set(columns) - set(spark.column_names))
        if missing:
            out.append(f"silver {name}: columns only in the peer: {missing}")
            continue
        out += compare_table(
            f"silver {name}",
            spark.select(columns).to_pylist(),
            peer.select(columns).to_pylist(),
            SILVER_KEYS[name],
        )
        counted = []
        for table in (
            pq.read_table(spark_dir / f"{name}_quarantine"),
            pq.read_table(peer_dir / f"{name}_quarantine.parquet"),
        ):
            files = [Path(f).name for f in table.column("source_file").to_pylist()]
            reasons = table.column("quarantine_reason").to_pylist()
            counted.append(Counter(zip(files, reasons, strict=True)))
        spark_bad, peer_bad = counted
        for file, reasons in sorted(spark_bad.keys() | peer_bad.keys()):
            if spark_bad[file, reasons] != peer_bad[file, reasons]:
                out.append(
                    f"quarantine {name} {file} [{reasons}]: spark {spark_bad[file, reasons]} "
                    f"rows, peer {peer_bad[file, reasons]}"
                )
    return out

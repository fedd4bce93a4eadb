"""GOLD -> WAREHOUSE (PostgreSQL): DDL from warehouse_sql/, COPY into a staging table, swap in
one transaction, then validate row count and checksum against the gold export.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from psycopg2 import sql

from lakehouse.config import FilesystemStore, PostgresWarehouse, Profile, S3Store
from lakehouse.paths import REPO_ROOT

DDL_DIR = REPO_ROOT / "warehouse_sql" / "ddl"


@dataclass(frozen=True)
class LoadResult:
    table: str
    rows: int
    checksum: int


def ddl(table: str, schema: str, target: str | None = None) -> str:
    path = DDL_DIR / f"{table}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no DDL for table {table!r}: expected {path}")
    return path.read_text().format(schema=schema, table=target or table)


def _filesystem(profile: Profile) -> tuple[pafs.FileSystem, str]:
    store = profile.object_store
    if isinstance(store, S3Store):
        scheme = "https"
        endpoint = None
        if store.endpoint_url:
            scheme, _, endpoint = store.endpoint_url.partition("://")
        fs = pafs.S3FileSystem(
            access_key=store.access_key_id,
            secret_key=store.secret_access_key,
            region=store.region,
            endpoint_override=endpoint,
            scheme=scheme,
        )
        return fs, ""
    assert isinstance(store, FilesystemStore)
    return pafs.LocalFileSystem(), str(store.root_path) + "/"


def read_export(profile: Profile, key: str) -> pa.Table:
    """Read a gold Parquet export (a folder of part files) from the object store."""
    fs, prefix = _filesystem(profile)
    dataset = ds.dataset(
        f"{prefix}{profile.zones.gold}/{key}",
        format="parquet",
        filesystem=fs,
        exclude_invalid_files=True,
    )
    return dataset.to_table()


def checksum(table: pa.Table, column: str) -> int:
    return int(pc.sum(table[column]).as_py() or 0)


def connect(profile: Profile):
    wh = profile.warehouse
    if not isinstance(wh, PostgresWarehouse):
        raise TypeError(
            f"profile {profile.name!r}: the PostgreSQL loader needs warehouse.kind=postgres"
        )
    return psycopg2.connect(wh.dsn())


def load_table(profile: Profile, table: str, data: pa.Table, checksum_column: str) -> LoadResult:
    """Replace `schema.table` with `data` atomically; raises if counts do not match."""
    wh = profile.warehouse
    assert isinstance(wh, PostgresWarehouse)
    staging = f"{table}__staging"
    buf = io.BytesIO()
    pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=True))
    buf.seek(0)
    ident = sql.Identifier
    conn = connect(profile)
    try:
        with conn, conn.cursor() as cur:  # one transaction: commit on success, rollback on error
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(wh.schema_name)))
            cur.execute(
                sql.SQL("DROP TABLE IF EXISTS {}.{}").format(ident(wh.schema_name), ident(staging))
            )
            cur.execute(ddl(table, wh.schema_name, staging))
            copy = sql.SQL("COPY {}.{} FROM STDIN WITH (FORMAT csv, HEADER true)").format(
                ident(wh.schema_name), ident(staging)
            )
            cur.copy_expert(copy.as_string(conn), buf)
            cur.execute(
                sql.SQL("SELECT count(*), coalesce(sum({}), 0) FROM {}.{}").format(
                    ident(checksum_column), ident(wh.schema_name), ident(staging)
                )
            )
            rows, total = cur.fetchone()
            expected = LoadResult(table, data.num_rows, checksum(data, checksum_column))
            if (rows, int(total)) != (expected.rows, expected.checksum):
                raise ValueError(
                    f"{wh.schema_name}.{staging}: loaded {rows} rows / checksum {total}, gold "
                    f"export has {expected.rows} / {expected.checksum}; table left unchanged"
                )
            cur.execute(
                sql.SQL("DROP TABLE IF EXISTS {}.{}").format(ident(wh.schema_name), ident(table))
            )
            cur.execute(
                sql.SQL("ALTER TABLE {}.{} RENAME TO {}").format(
                    ident(wh.schema_name), ident(staging), ident(table)
                )
            )
            # The primary key index keeps the staging name after the rename; give it the table's.
            cur.execute(
                sql.SQL("ALTER INDEX IF EXISTS {}.{} RENAME TO {}").format(
                    ident(wh.schema_name), ident(f"{staging}_pkey"), ident(f"{table}_pkey")
                )
            )
    finally:
        conn.close()
    return expected


def validate_table(
    profile: Profile, table: str, data: pa.Table, checksum_column: str
) -> LoadResult:
    """Check the live warehouse table against the gold export (row count and checksum)."""
    wh = profile.warehouse
    assert isinstance(wh, PostgresWarehouse)
    conn = connect(profile)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT count(*), coalesce(sum({}), 0) FROM {}.{}").format(
                    sql.Identifier(checksum_column),
                    sql.Identifier(wh.schema_name),
                    sql.Identifier(table),
                )
            )
            rows, total = cur.fetchone()
    finally:
        conn.close()
    expected = LoadResult(table, data.num_rows, checksum(data, checksum_column))
    if (rows, int(total)) != (expected.rows, expected.checksum):
        raise ValueError(
            f"{wh.schema_name}.{table}: {rows} rows / checksum {total} in the warehouse, gold has "
            f"{expected.rows} / {expected.checksum}"
        )
    return expected

"""Warehouse load throughput: the loader (stage with COPY FROM STDIN, keys, validation against
GOLD, one-transaction swap) next to a plain `psql \\copy` of the same rows into tables with the
same columns, on the same PostgreSQL, in the same run.

    python -m benchmarks.warehouse_load --scale 1 --work /tmp/bench-wh

Builds the lake in-process (generate -> BRONZE -> SILVER -> GOLD exports), then measures. Needs
the local profile's PostgreSQL (`lakehouse services start postgres`) and `psql` on PATH.
Writes <work>/warehouse_load.json and prints a Markdown table; `make bench` (benchmarks.suite)
calls `measure` as its warehouse stage.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg2
import pyarrow.csv as pacsv

from lakehouse import warehouse
from lakehouse.config import load_profile
from lakehouse.warehouse import sql as warehouse_sql


def spark_session():
    from lakehouse.backends.spark_conf import local_session_conf
    from spark_jobs.runtime import build_session

    return build_session("bench-warehouse", local_session_conf(cores=2, driver_memory="4g"))


def build_lake(work: Path, scale: float, data: Path | None):
    from harness.inprocess import lake_at, publish_gold, to_silver
    from seed_data.generate import generate

    if data is None:
        data = work / "data"
        if not (data / "manifest.json").is_file():
            generate(data, scale, 42)
    root = work / "lake"
    if not (root / "lakehouse-gold" / "_export").is_dir():
        shutil.rmtree(root, ignore_errors=True)
        spark = spark_session()
        lake = lake_at(root)
        to_silver(spark, lake, data, [1, 2, 3], load_profile("local").source_db)
        publish_gold(spark, lake)
        spark.stop()
    return lake_at(root)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


PSQL_SCHEMA = "bench_psql"


def measure(lake, work: Path, runs: int, schema: str = "bench_loader") -> dict:
    """Loader and `psql \\copy` times of the lake's gold exports, `runs` times each, in schemas
    `schema` and bench_psql of the local profile's warehouse (never the pipeline's schema)."""
    local = load_profile("local")
    wh_cfg = local.warehouse.model_copy(update={"schema_name": schema})
    profile = lake.profile.model_copy(update={"warehouse": wh_cfg})
    warehouse.bootstrap(profile)
    defs = warehouse_sql.table_defs()
    exports = {n: warehouse.find_export(profile, d) for n, d in defs.items()}
    exports = {n: e for n, e in exports.items() if e is not None}
    rows = sum(e.dataset.count_rows() for e in exports.values())
    parquet_bytes = sum(e.bytes for e in exports.values())

    # The same rows as CSV files for psql (written once, not timed).
    csv_dir = work / "csv"
    csv_dir.mkdir(parents=True, exist_ok=True)
    for name, export in exports.items():
        pacsv.write_csv(export.dataset.to_table(), csv_dir / f"{name}.csv")
    csv_bytes = sum((csv_dir / f"{n}.csv").stat().st_size for n in exports)

    loader_s, copy_s = [], []
    for _ in range(runs):
        started = time.monotonic()
        warehouse.load(profile, sorted(exports))
        loader_s.append(time.monotonic() - started)

        owner = psycopg2.connect(wh_cfg.dsn())
        owner.autocommit = True
        with owner.cursor() as cur:
            for name in (PSQL_SCHEMA, warehouse_sql.restricted_schema(PSQL_SCHEMA)):
                cur.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")
            for name in exports:
                cur.execute(warehouse_sql.create_table(defs[name], PSQL_SCHEMA, "postgres"))
        owner.close()
        script = "".join(
            f"\\copy {warehouse_sql.schema_of(defs[n], PSQL_SCHEMA)}.{n} "
            f"FROM '{csv_dir / n}.csv' WITH (FORMAT csv, HEADER true)\n"
            for n in exports
        )
        (work / "copy.psql").write_text(script)
        env = {**os.environ, "PGPASSWORD": wh_cfg.password}
        started = time.monotonic()
        subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                wh_cfg.host,
                "-p",
                str(wh_cfg.port),
                "-U",
                wh_cfg.user,
                "-d",
                wh_cfg.database,
                "-f",
                str(work / "copy.psql"),
            ],
            check=True,
            env=env,
        )
        copy_s.append(time.monotonic() - started)

    m_loader, m_copy = median(loader_s), median(copy_s)
    return {
        "tables": len(exports),
        "rows": rows,
        "parquet_mb": round(parquet_bytes / 1e6, 1),
        "csv_mb": round(csv_bytes / 1e6, 1),
        "loader_s": spread(loader_s),
        "psql_copy_s": spread(copy_s),
        "loader_rows_per_s": round(rows / m_loader),
        "loader_csv_mb_per_s": round(csv_bytes / 1e6 / m_loader, 1),
        "psql_copy_rows_per_s": round(rows / m_copy),
        "psql_copy_csv_mb_per_s": round(csv_bytes / 1e6 / m_copy, 1),
        "loader_to_psql_copy_time_ratio": round(m_loader / m_copy, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--data", type=Path, help="an existing generated dataset")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    lake = build_lake(args.work, args.scale, args.data)
    result = {"scale": args.scale, **measure(lake, args.work, args.runs)}
    (args.work / "warehouse_load.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(
        "\n| scale | rows | loader (s) | psql \\copy (s) | loader rows/s | \\copy rows/s | ratio |"
        "\n"
        f"|---|---|---|---|---|---|---|\n| {args.scale} | {result['rows']:,} | "
        f"{result['loader_s']['median']:.2f} | {result['psql_copy_s']['median']:.2f} | "
        f"{result['loader_rows_per_s']:,} | {result['psql_copy_rows_per_s']:,} | "
        f"{result['loader_to_psql_copy_time_ratio']} |"
    )


if __name__ == "__main__":
    main()

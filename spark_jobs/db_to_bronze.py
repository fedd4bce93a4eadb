"""Operational DB -> BRONZE job (Glue-compatible): read each registered table over JDBC, full
(snapshot) or incremental by a watermark column, and write it to `bronze/<table>` as Delta with
ingestion metadata (_ingested_at, _batch_id, _source).

Incremental reads take rows with watermark >= the stored high-water mark (rows committed late
with an equal timestamp are not skipped) and MERGE them on key + watermark, so re-read rows are
not duplicated. The high-water marks live in a Delta table, read once per run and advanced in
one MERGE after every table's write has committed; a crash in between re-reads the same rows,
which the MERGE absorbs.
"""

from __future__ import annotations

import json
import time

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.runtime import finish_job, is_delta, login, start_job, write_metrics

STATE_TABLE = "_state/watermarks"


def read_watermarks(spark: SparkSession, bronze_root: str) -> dict[str, str]:
    """High-water marks per table, as UTC ISO strings (no Python timezone conversion)."""
    path = f"{bronze_root}/{STATE_TABLE}"
    if not is_delta(spark, path):
        return {}
    return {r.table_name: r.watermark for r in spark.read.format("delta").load(path).collect()}


def save_watermarks(
    spark: SparkSession, bronze_root: str, marks: dict[str, str], batch_id: str
) -> None:
    """Every advanced high-water mark of the run in one MERGE (one commit, not one per table)."""
    if not marks:
        return
    path = f"{bronze_root}/{STATE_TABLE}"
    rows = spark.createDataFrame(
        [(table, value, batch_id) for table, value in sorted(marks.items())],
        "table_name string, watermark string, batch_id string",
    ).withColumn("updated_at", F.current_timestamp())
    if not is_delta(spark, path):
        rows.write.format("delta").mode("overwrite").save(path)
        return
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(rows.alias("s"), "t.table_name = s.table_name")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )


def source_query(spec: dict, since: str | None) -> str:
    sql = f"SELECT * FROM {spec['schema']}.{spec['table']}"
    if spec["mode"] == "incremental" and since is not None:
        sql += f" WHERE {spec['watermark']} >= TIMESTAMPTZ '{since}+00:00'"
    return f"({sql}) AS src"


def read_source(spark: SparkSession, url: str, props: dict, spec: dict, since) -> DataFrame:
    query = source_query(spec, since)
    parts = spec.get("read_partitions", 1)
    if parts > 1:
        # Parallel reads split on a hash of the key: works for any key type, no bounds query.
        key = " || '|' || ".join(f"{k}::text" for k in spec["key"])
        predicates = [f"mod(abs(hashtext({key})), {parts}) = {i}" for i in range(parts)]
        return spark.read.jdbc(url, query, predicates=predicates, properties=props)
    return spark.read.jdbc(url, query, properties=props)


def with_ingestion_metadata(df: DataFrame, spec: dict, batch_id: str) -> DataFrame:
    return (
        df.withColumn("_ingested_at", F.current_timestamp())
        .withColumn("_batch_id", F.lit(batch_id))
        .withColumn("_source", F.lit(f"postgres:{spec['schema']}.{spec['table']}"))
    )


def ingest_tables(
    spark: SparkSession, url: str, props: dict, specs: list[dict], bronze_root: str, batch_id: str
) -> list[dict]:
    """Every table of `specs` into BRONZE; the high-water marks are read once before the first
    table and saved once after the last table's write has committed (a crash in between re-reads
    the same rows, which the incremental MERGE absorbs)."""
    marks = read_watermarks(spark, bronze_root)
    results = [
        _ingest_table(spark, url, props, spec, bronze_root, batch_id, marks.get(spec["table"]))
        for spec in specs
    ]
    save_watermarks(
        spark,
        bronze_root,
        {r["table"]: r["watermark"] for r in results if r["watermark"]},
        batch_id,
    )
    return results


def ingest_table(
    spark: SparkSession, url: str, props: dict, spec: dict, bronze_root: str, batch_id: str
) -> dict:
    """One table into BRONZE (ingest_tables with one spec)."""
    return ingest_tables(spark, url, props, [spec], bronze_root, batch_id)[0]


def _ingest_table(
    spark: SparkSession,
    url: str,
    props: dict,
    spec: dict,
    bronze_root: str,
    batch_id: str,
    since: str | None,
) -> dict:
    table, target = spec["table"], f"{bronze_root}/{spec['table']}"
    source = with_ingestion_metadata(read_source(spark, url, props, spec, since), spec, batch_id)
    source = source.cache()
    rows_read = source.count()
    inserted = rows_read
    if spec["mode"] == "full" or not is_delta(spark, target):
        mode = "overwrite" if spec["mode"] == "full" else "append"
        source.write.format("delta").mode(mode).option("overwriteSchema", True).save(target)
    elif rows_read:
        cond = " AND ".join(f"t.{c} = s.{c}" for c in [*spec["key"], spec["watermark"]])
        delta = DeltaTable.forPath(spark, target)
        before = delta.history(1).collect()[0].version
        delta.alias("t").merge(source.alias("s"), cond).whenNotMatchedInsertAll().execute()
        last = delta.history(1).collect()[0]
        # A MERGE that changes nothing may not commit: then nothing was inserted.
        inserted = (
            int(last.operationMetrics.get("numTargetRowsInserted", 0))
            if (last.version > before)
            else 0
        )
    watermark = None
    if spec["mode"] == "incremental" and rows_read:
        # Formatted by Spark in the session time zone (UTC), never by Python's local zone.
        watermark = source.agg(
            F.date_format(F.max(spec["watermark"]), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
        ).collect()[0][0]
    source.unpersist()
    return {
        "table": table,
        "mode": spec["mode"],
        "since": since,
        "watermark": watermark,
        "rows_read": rows_read,
        "rows_inserted": inserted,
    }


def main() -> None:
    ctx = start_job(
        "db_to_bronze",
        ["jdbc_url", "jdbc_login", "tables", "bronze_root", "batch_id", "metrics_path"],
    )
    spark, args = ctx.spark, ctx.args
    started = time.time()
    user, password = login(args["jdbc_login"])
    props = {"user": user, "password": password, "driver": "org.postgresql.Driver"}
    results = ingest_tables(
        spark,
        args["jdbc_url"],
        props,
        json.loads(args["tables"]),
        args["bronze_root"],
        args["batch_id"],
    )
    metrics = {
        "stage": "db_to_bronze",
        "tables": results,
        "started_at": round(started, 3),
        "duration_s": round(time.time() - started, 3),
    }
    write_metrics(spark, args["metrics_path"], metrics)
    finish_job(ctx)


if __name__ == "__main__":
    main()

"""BRONZE -> SILVER job (Glue-compatible): read every bronze file of a dataset, clean, type,
deduplicate, quarantine bad rows, write a Delta table partitioned by event_date, and record
metrics that reconcile: rows_in = rows_silver + rows_quarantined + duplicates_dropped.
"""

from __future__ import annotations

import json
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.runtime import finish_job, path_exists, start_job
from spark_jobs.silver import events


def bronze_files(spark: SparkSession, bronze_root: str, dataset: str) -> dict[tuple, list[str]]:
    """Bronze files of a dataset grouped by (format, delimiter), from the ingestion log."""
    log = f"{bronze_root.rstrip('/')}/_ingestion_log/{dataset}/"
    if not path_exists(spark, log):
        return {}
    records = (
        spark.read.json(log, recursiveFileLookup=True)
        .where(F.col("outcome") == "bronze")
        .select("target_key", "format", "delimiter")
        .distinct()
        .collect()
    )
    groups: dict[tuple, list[str]] = {}
    for r in sorted(records):
        groups.setdefault((r.format, r.delimiter), []).append(
            f"{bronze_root.rstrip('/')}/{r.target_key}"
        )
    return groups


def extract_bronze(spark: SparkSession, bronze_root: str, dataset: str) -> DataFrame:
    frames: list[DataFrame] = []
    for (fmt, delimiter), paths in bronze_files(spark, bronze_root, dataset).items():
        if fmt == "csv":
            df = spark.read.csv(paths, header=True, sep=delimiter, inferSchema=False)
        elif fmt in ("json", "ndjson"):
            df = spark.read.schema(events.RAW_EVENTS_SCHEMA).json(paths, multiLine=fmt == "json")
        else:
            df = spark.read.parquet(*paths)
        frames.append(events.conform(df.withColumn("source_file", F.input_file_name())))
    if not frames:
        empty = spark.createDataFrame([], events.RAW_EVENTS_SCHEMA)
        return empty.withColumn("source_file", F.lit(None).cast("string"))
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def main() -> None:
    ctx = start_job(
        "bronze_to_silver",
        ["bronze_root", "dataset", "silver_path", "quarantine_path", "metrics_path"],
    )
    spark, args = ctx.spark, ctx.args
    started = time.time()

    raw = extract_bronze(spark, args["bronze_root"], args["dataset"]).cache()
    cleaned = events.clean_events(raw).cache()
    valid = events.valid_rows(cleaned)
    silver = events.deduplicate_events(valid)
    bad = events.quarantined_rows(cleaned)

    (
        silver.write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", True)
        .partitionBy("event_date")
        .save(args["silver_path"])
    )
    bad.write.format("delta").mode("overwrite").option("overwriteSchema", True).save(
        args["quarantine_path"]
    )

    rows_in = raw.count()
    rows_valid = valid.count()
    rows_silver = spark.read.format("delta").load(args["silver_path"]).count()
    rows_quarantined = spark.read.format("delta").load(args["quarantine_path"]).count()
    metrics = {
        "stage": "bronze_to_silver",
        "dataset": "events",
        "rows_in": rows_in,
        "rows_silver": rows_silver,
        "rows_quarantined": rows_quarantined,
        "duplicates_dropped": rows_valid - rows_silver,
        "duration_s": round(time.time() - started, 3),
    }
    if rows_in != rows_silver + rows_quarantined + metrics["duplicates_dropped"]:
        raise RuntimeError(f"row counts do not reconcile: {metrics}")
    spark.createDataFrame([(json.dumps(metrics),)], "value string").coalesce(1).write.mode(
        "overwrite"
    ).text(args["metrics_path"])
    print(json.dumps(metrics))
    finish_job(ctx)


if __name__ == "__main__":
    main()

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

# Bronze folder per detected format -> how Spark reads it (written by the ingestion step).
CSV_DELIMITERS = {"csv": ",", "csv_pipe": "|", "csv_tab": "\t", "csv_semicolon": ";"}
JSON_FOLDERS = {"ndjson": False, "json": True}  # folder -> multiLine


def extract_bronze(spark: SparkSession, bronze_path: str) -> DataFrame:
    frames: list[DataFrame] = []
    for folder, delimiter in CSV_DELIMITERS.items():
        path = f"{bronze_path.rstrip('/')}/{folder}/"
        if path_exists(spark, path):
            df = (
                spark.read.option("header", True)
                .option("sep", delimiter)
                .option("inferSchema", False)
                .option("mode", "PERMISSIVE")
                .csv(path)
            )
            frames.append(events.conform(df.withColumn("source_file", F.input_file_name())))
    for folder, multiline in JSON_FOLDERS.items():
        path = f"{bronze_path.rstrip('/')}/{folder}/"
        if path_exists(spark, path):
            df = (
                spark.read.schema(events.RAW_EVENTS_SCHEMA)
                .option("multiLine", multiline)
                .json(path)
            )
            frames.append(events.conform(df.withColumn("source_file", F.input_file_name())))
    if not frames:
        return spark.createDataFrame([], events.RAW_EVENTS_SCHEMA).withColumn(
            "source_file", F.lit(None).cast("string")
        )
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def main() -> None:
    ctx = start_job(
        "bronze_to_silver", ["bronze_path", "silver_path", "quarantine_path", "metrics_path"]
    )
    spark, args = ctx.spark, ctx.args
    started = time.time()

    raw = extract_bronze(spark, args["bronze_path"]).cache()
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

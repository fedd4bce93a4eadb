"""SILVER's bookmark: which bronze files are still to process (the ingestion log minus the
processed-files table), and marking a batch's files processed. A Delta table in the SILVER zone,
so it works the same locally and on Glue (Glue's own job bookmarks stay off)."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.runtime import is_delta, path_exists
from spark_jobs.silver import release as R

PROCESSED = "_state/processed_files"
LOG_FIELDS = "outcome string, format string, delimiter string, target_key string"


def pending_files(
    spark: SparkSession, bronze_root: str, silver_root: str, dataset: str
) -> list[tuple[str, str | None, str]]:
    """(format, delimiter, bronze key) of the dataset's bronze files not yet processed."""
    log = f"{bronze_root}/_ingestion_log/{dataset}/"
    if not path_exists(spark, log):
        return []
    records = (
        spark.read.schema(LOG_FIELDS)
        .json(log, recursiveFileLookup=True)  # no inference pass
        .where(F.col("outcome") == "bronze")
        .select("format", "delimiter", "target_key")
        .distinct()
    )
    if is_delta(spark, f"{silver_root}/{PROCESSED}"):
        done = (
            spark.read.format("delta")
            .load(f"{silver_root}/{PROCESSED}")
            .where(F.col("dataset") == dataset)
            .select(F.col("bronze_key").alias("target_key"))
        )
        records = records.join(done, "target_key", "left_anti")
    return sorted((r.format, r.delimiter, r.target_key) for r in records.collect())


def releases(spark: SparkSession, silver_root: str, dataset: str, pending: set[str]) -> dict:
    """The operator's release records (spark_jobs.silver.release) of still pending files."""
    folder = f"{silver_root}/{R.RELEASES}/{dataset}/"
    if not pending or not path_exists(spark, folder):
        return {}
    rows = spark.read.schema(R.FIELDS).json(folder).where(F.col("bronze_key").isin(*pending))
    return {r.bronze_key: r.asDict() for r in rows.collect()}


def mark_processed(
    spark: SparkSession, silver_root: str, dataset: str, files: list, batch_id: str
) -> None:
    """Record the batch's files as processed (after its MERGE and quarantine are committed: a
    crash before this commit reprocesses them, and both writes are idempotent)."""
    done = spark.createDataFrame(
        [(dataset, key, batch_id) for _f, _d, key in files],
        "dataset string, bronze_key string, batch_id string",
    )
    mode = "append" if is_delta(spark, f"{silver_root}/{PROCESSED}") else "overwrite"
    done.write.format("delta").mode(mode).save(f"{silver_root}/{PROCESSED}")

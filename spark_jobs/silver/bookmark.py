"""SILVER's bookmark: which bronze files are still to process (the ingestion log minus the
processed-files table), and marking a batch's files processed. A Delta table in the SILVER zone,
so it works the same locally and on Glue (Glue's own job bookmarks stay off).

An operational source table's bronze Delta table has no files of its own: each db_to_bronze
write (its rows share `_batch_id` and `_ingested_at`) counts as one file, named
`<table>@<batch id>@<written at>` (`table_batch_key`), so a rerun of db_to_bronze under the same
batch id is still a new file."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.runtime import is_delta, path_exists
from spark_jobs.silver import release as R

PROCESSED = "_state/processed_files"
LOG_FIELDS = "outcome string, format string, delimiter string, target_key string"


TABLE_FORMAT = "delta"  # the format an operational table's bronze writes are listed with


def table_batch_key(dataset: str) -> Column:
    """The bookmark's name of the db_to_bronze write a bronze table row came from."""
    written = F.date_format("_ingested_at", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
    return F.concat_ws("@", F.lit(dataset), F.col("_batch_id"), written)


def _logged_files(spark: SparkSession, bronze_root: str, dataset: str) -> DataFrame | None:
    log = f"{bronze_root}/_ingestion_log/{dataset}/"
    if not path_exists(spark, log):
        return None
    return (
        spark.read.schema(LOG_FIELDS)
        .json(log, recursiveFileLookup=True)  # no inference pass
        .where(F.col("outcome") == "bronze")
        .select("format", "delimiter", "target_key")
        .distinct()
    )


def _table_writes(spark: SparkSession, bronze_root: str, dataset: str) -> DataFrame | None:
    path = f"{bronze_root}/{dataset}"
    if not is_delta(spark, path):
        return None
    return (
        spark.read.format("delta")
        .load(path)
        .select(
            F.lit(TABLE_FORMAT).alias("format"),
            F.lit(None).cast("string").alias("delimiter"),
            table_batch_key(dataset).alias("target_key"),
        )
        .distinct()
    )


def pending_files(
    spark: SparkSession, bronze_root: str, silver_root: str, dataset: str, source: str = "files"
) -> list[tuple[str, str | None, str]]:
    """(format, delimiter, bronze key) of the dataset's bronze files not yet processed;
    `source` "table": the db_to_bronze writes of an operational table (module docstring)."""
    listed = _table_writes if source == "table" else _logged_files
    records = listed(spark, bronze_root, dataset)
    if records is None:
        return []
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

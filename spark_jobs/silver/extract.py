"""Reading a batch: every pending bronze file read on its own (files of one dataset spell their
columns differently) and conformed to the canonical names, then one union. An operational
table's pending writes are one read of its bronze Delta table, its values as text like a
file's, so SILVER types and checks them by the same rules."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.silver import transforms as T
from spark_jobs.silver.bookmark import TABLE_FORMAT, table_batch_key


def read_file(spark: SparkSession, path: str, fmt: str, delimiter: str | None) -> DataFrame:
    # One read per file: files of one dataset spell their columns differently, and a shared
    # case-insensitive schema would collide (event_id vs EVENT_ID).
    if fmt == "csv":
        # RFC 4180 quoting, as ingestion validates it: a quote inside a quoted field is doubled
        # (Spark's default escape is a backslash, which kept `"{""a"": 1}"` as written).
        return spark.read.csv(
            path, header=True, sep=delimiter or ",", inferSchema=False, quote='"', escape='"'
        )
    if fmt in ("json", "ndjson"):
        return spark.read.json(path, multiLine=fmt == "json", primitivesAsString=True)
    return spark.read.parquet(path)


def read_table_writes(spark: SparkSession, bronze_root: str, keys: list[str], spec: dict):
    """The rows of an operational table's pending db_to_bronze writes, business columns as text
    (timestamps in one fixed UTC pattern SILVER's parser accepts) and the write's key."""
    dataset = spec["dataset"]
    table = spark.read.format("delta").load(f"{bronze_root}/{dataset}")
    table = table.withColumn(T.SOURCE, table_batch_key(dataset)).where(F.col(T.SOURCE).isin(keys))
    business = [c for c in table.columns if not c.startswith("_") and c != T.SOURCE]
    as_text = {
        c: F.date_format(c, "yyyy-MM-dd HH:mm:ss.SSSSSS")
        for c in business
        if table.schema[c].dataType.typeName() in ("timestamp", "timestamp_ntz")
    }
    return T.conform(table.withColumns(as_text).select(*business, T.SOURCE), spec)


def extract(spark: SparkSession, bronze_root: str, files: list, spec: dict) -> DataFrame:
    if files and all(fmt == TABLE_FORMAT for fmt, _d, _k in files):
        return read_table_writes(spark, bronze_root, [key for _f, _d, key in files], spec)
    frames = [
        T.conform(
            read_file(spark, f"{bronze_root}/{key}", fmt, delim).withColumn(T.SOURCE, F.lit(key)),
            spec,
        )
        for fmt, delim, key in files
    ]
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out

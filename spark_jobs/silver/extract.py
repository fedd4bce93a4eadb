"""Reading a batch: every pending bronze file read on its own (files of one dataset spell their
columns differently) and conformed to the canonical names, then one union."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.silver import transforms as T


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


def extract(spark: SparkSession, bronze_root: str, files: list, spec: dict) -> DataFrame:
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

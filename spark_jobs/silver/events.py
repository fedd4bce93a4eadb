"""SILVER events: conform raw columns, type and clean, split off bad rows, deduplicate.

Pure DataFrame -> DataFrame functions; the job script does all reading and writing.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

RAW_COLUMNS = [
    "event_id",
    "user_id",
    "event_type",
    "event_ts",
    "session_id",
    "device",
    "country",
    "product_id",
]
RAW_EVENTS_SCHEMA = StructType([StructField(c, StringType()) for c in RAW_COLUMNS])

EVENT_TYPES = [
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "login",
    "logout",
]

SILVER_EVENTS_SCHEMA = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("user_id", LongType(), True),
        StructField("event_type", StringType(), False),
        StructField("event_ts", TimestampType(), False),
        StructField("session_id", StringType(), True),
        StructField("device", StringType(), True),
        StructField("country", StringType(), True),
        StructField("product_id", StringType(), True),
        StructField("source_file", StringType(), True),
        StructField("event_date", DateType(), False),
    ]
)

QUARANTINE_SCHEMA = StructType(
    [
        *[StructField(c, StringType()) for c in RAW_COLUMNS],
        StructField("source_file", StringType()),
        StructField("quarantine_reason", StringType(), False),
    ]
)

# Accepted timestamp spellings, tried in order (deterministic: the first that parses wins).
TIMESTAMP_FORMATS = [
    "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX",
    "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]",
    "yyyy-MM-dd HH:mm:ss[.SSSSSS]",
]


def conform(df: DataFrame, columns: list[str] = RAW_COLUMNS) -> DataFrame:
    """Select the canonical columns by name as strings; missing ones become null."""
    present = {c.lower(): c for c in df.columns}
    return df.select(
        *[
            (
                F.col(f"`{present[c]}`").cast("string")
                if c in present
                else F.lit(None).cast("string")
            ).alias(c)
            for c in columns
        ],
        *(
            [F.col("source_file")]
            if "source_file" in df.columns
            else [F.lit(None).cast("string").alias("source_file")]
        ),
    )


def _blank_to_null(col: Column) -> Column:
    trimmed = F.trim(col)
    return F.when((trimmed == "") | F.lower(trimmed).isin("null", "none", "n/a"), None).otherwise(
        trimmed
    )


def parse_timestamp(col: Column) -> Column:
    return F.coalesce(*[F.try_to_timestamp(col, F.lit(fmt)) for fmt in TIMESTAMP_FORMATS])


def clean_events(raw: DataFrame) -> DataFrame:
    """Type and normalise conformed raw events; adds `quarantine_reason` (null when clean)."""
    df = raw.select(*[_blank_to_null(F.col(c)).alias(c) for c in RAW_COLUMNS], "source_file")
    typed = df.select(
        F.col("event_id"),
        F.col("user_id").cast("long").alias("user_id"),
        F.lower(F.col("event_type")).alias("event_type"),
        parse_timestamp(F.col("event_ts")).alias("event_ts"),
        F.col("session_id"),
        F.lower(F.col("device")).alias("device"),
        F.upper(F.col("country")).alias("country"),
        F.col("product_id"),
        F.col("source_file"),
        *[F.col(c).alias(f"_raw_{c}") for c in RAW_COLUMNS],
    )
    reasons = F.concat_ws(
        ",",
        F.when(F.col("event_id").isNull(), F.lit("missing_event_id")),
        F.when(F.col("event_ts").isNull(), F.lit("invalid_event_ts")),
        F.when(
            ~F.col("event_type").isin(EVENT_TYPES) | F.col("event_type").isNull(),
            F.lit("unknown_event_type"),
        ),
        F.when(
            F.col("_raw_user_id").isNotNull() & F.col("user_id").isNull(), F.lit("invalid_user_id")
        ),
    )
    return typed.withColumn("quarantine_reason", F.when(reasons != "", reasons))


def quarantined_rows(cleaned: DataFrame) -> DataFrame:
    """Bad rows with their original values, source file and reason codes."""
    bad = cleaned.where(F.col("quarantine_reason").isNotNull())
    return bad.select(
        *[F.col(f"_raw_{c}").alias(c) for c in RAW_COLUMNS], "source_file", "quarantine_reason"
    )


def valid_rows(cleaned: DataFrame) -> DataFrame:
    good = cleaned.where(F.col("quarantine_reason").isNull())
    return good.select(
        *[f.name for f in SILVER_EVENTS_SCHEMA.fields if f.name != "event_date"],
    ).withColumn("event_date", F.to_date("event_ts"))


def deduplicate_events(valid: DataFrame) -> DataFrame:
    """One row per event_id: the latest event_ts wins, ties broken by source file then values."""
    order = Window.partitionBy("event_id").orderBy(
        F.col("event_ts").desc(),
        F.col("source_file").desc_nulls_last(),
        *[F.col(c).asc_nulls_last() for c in ("user_id", "event_type", "session_id")],
    )
    ranked = valid.withColumn("_rank", F.row_number().over(order))
    out = ranked.where(F.col("_rank") == 1).drop("_rank")
    return out.select(*[F.col(f.name).cast(f.dataType) for f in SILVER_EVENTS_SCHEMA.fields])

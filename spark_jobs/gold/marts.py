"""GOLD marts, each one pure function with an explicit output schema."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, LongType, StringType, StructField, StructType

# Column order is the warehouse contract: Redshift's Parquet COPY loads by position.
DAILY_EVENT_COUNTS_SCHEMA = StructType(
    [
        StructField("event_date", DateType(), False),
        StructField("event_type", StringType(), False),
        StructField("event_count", LongType(), False),
        StructField("unique_users", LongType(), False),
    ]
)


def build_daily_event_counts(silver_events: DataFrame) -> DataFrame:
    """Events and distinct users per day and event type."""
    agg = silver_events.groupBy("event_date", "event_type").agg(
        F.count(F.lit(1)).alias("event_count"),
        F.countDistinct("user_id").alias("unique_users"),
    )
    return agg.select(
        *[F.col(f.name).cast(f.dataType) for f in DAILY_EVENT_COUNTS_SCHEMA.fields]
    ).orderBy("event_date", "event_type")

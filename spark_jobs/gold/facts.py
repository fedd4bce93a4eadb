"""GOLD facts, each one pure function with an explicit output schema."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.columns import count_if
from spark_jobs.gold.dims import UNKNOWN_USER_SK, conform_to, date_key
from spark_jobs.gold.reference import USD_RATES

MONEY = DecimalType(18, 2)
EXCURSION_LOW_C, EXCURSION_HIGH_C = 2.0, 8.0  # cold-chain band; readings outside are excursions

FACT_EVENTS = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("date_key", IntegerType(), False),
        StructField("event_date", DateType(), False),
        StructField("event_ts", TimestampType(), False),
        StructField("user_id", LongType(), False),
        StructField("event_type", StringType(), False),
        StructField("session_id", StringType(), True),
        StructField("device", StringType(), True),
        StructField("country", StringType(), True),
        StructField("product_id", StringType(), True),
    ]
)
FACT_TRANSACTIONS = StructType(
    [
        StructField("transaction_id", StringType(), False),
        StructField("date_key", IntegerType(), False),
        StructField("transaction_ts", TimestampType(), False),
        StructField("user_id", LongType(), False),
        StructField("user_sk", LongType(), True),
        StructField("status", StringType(), False),
        StructField("currency", StringType(), False),
        StructField("amount", MONEY, False),
        StructField("amount_usd", MONEY, False),
        StructField("payment_method", StringType(), True),
    ]
)
FACT_USER_ACTIVITY = StructType(
    [
        StructField("user_id", LongType(), False),
        StructField("activity_date", DateType(), False),
        StructField("date_key", IntegerType(), False),
        StructField("events", LongType(), False),
        StructField("sessions", LongType(), False),
        StructField("purchases", LongType(), False),
        StructField("spend_usd", MONEY, False),
    ]
)
FACT_SHIPMENTS = StructType(
    [
        StructField("shipment_id", StringType(), False),
        StructField("transaction_id", StringType(), True),
        StructField("carrier", StringType(), True),
        StructField("status", StringType(), True),
        StructField("shipped_at", TimestampType(), True),
        StructField("delivered_at", TimestampType(), True),
        StructField("delivery_hours", DoubleType(), True),
        StructField("shipping_cost", MONEY, True),
        StructField("readings", LongType(), False),
        StructField("max_temperature_c", DoubleType(), True),
        StructField("temperature_excursions", LongType(), False),
    ]
)


def rates(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [(c, r) for c, r in USD_RATES.items()], "currency string, usd_rate decimal(18,6)"
    )


def build_fact_events(silver_events: DataFrame) -> DataFrame:
    out = silver_events.withColumn("date_key", date_key("event_date"))
    return conform_to(out, FACT_EVENTS).orderBy("event_date", "event_id")


def build_fact_transactions(
    spark: SparkSession, silver_transactions: DataFrame, dim_users: DataFrame
) -> DataFrame:
    """Each transaction joined to the user version valid at transaction time (point in time),
    not merely the current one; amounts converted to USD at the fixed reference rates.

    A transaction older than its user's first known version takes that first version (the user
    existed; their attributes were not known yet); one whose user is not in the dimension at
    all (a late-arriving member) takes the unknown member, UNKNOWN_USER_SK."""
    versions = dim_users.where(F.col("user_sk") != UNKNOWN_USER_SK).select(
        "user_id", "user_sk", "valid_from", "valid_to"
    )
    first = versions.groupBy("user_id").agg(F.min_by("user_sk", "valid_from").alias("first_sk"))
    t = silver_transactions.alias("t")
    v = versions.alias("v")
    joined = (
        t.join(
            v,
            (F.col("t.user_id") == F.col("v.user_id"))
            & (F.col("v.valid_from") <= F.col("t.transaction_ts"))
            & (F.col("v.valid_to").isNull() | (F.col("t.transaction_ts") < F.col("v.valid_to"))),
            "left",
        )
        .select("t.*", F.col("v.user_sk").alias("pit_sk"))
        .join(first, "user_id", "left")
        .withColumn(
            "user_sk", F.coalesce("pit_sk", "first_sk", F.lit(UNKNOWN_USER_SK).cast("bigint"))
        )
    )
    converted = joined.join(F.broadcast(rates(spark)), "currency", "left").withColumn(
        "amount_usd", (F.col("amount") * F.col("usd_rate")).cast(MONEY)
    )
    out = converted.withColumn("date_key", date_key(F.to_date("transaction_ts")))
    return conform_to(out, FACT_TRANSACTIONS).orderBy("transaction_ts", "transaction_id")


def build_fact_user_activity(fact_events: DataFrame, fact_transactions: DataFrame) -> DataFrame:
    """Per user per day: events, sessions, purchase events and completed spend in USD."""
    ev = fact_events.groupBy("user_id", F.col("event_date").alias("activity_date")).agg(
        F.count(F.lit(1)).alias("events"),
        F.countDistinct("session_id").alias("sessions"),
        count_if(F.col("event_type") == "purchase").alias("purchases"),
    )
    spend = (
        fact_transactions.where("status = 'completed'")
        .groupBy("user_id", F.to_date("transaction_ts").alias("activity_date"))
        .agg(F.sum("amount_usd").alias("spend_usd"))
    )
    out = ev.join(spend, ["user_id", "activity_date"], "full").fillna(
        {"events": 0, "sessions": 0, "purchases": 0}
    )
    out = out.withColumn("spend_usd", F.coalesce("spend_usd", F.lit(0).cast(MONEY)))
    out = out.withColumn("date_key", date_key("activity_date"))
    return conform_to(out, FACT_USER_ACTIVITY).orderBy("activity_date", "user_id")


def latest(df: DataFrame, key: list[str], order_by: str) -> DataFrame:
    """The newest row per key from a change history (e.g. SILVER's stock counts)."""
    w = Window.partitionBy(*key).orderBy(F.col(order_by).desc())
    return df.withColumn("_r", F.row_number().over(w)).where("_r = 1").drop("_r")


def build_fact_shipments(silver_shipments: DataFrame, silver_tracking: DataFrame) -> DataFrame:
    """Shipments (SILVER keeps the latest version of each) with delivery time and the
    cold-chain readings of their IoT devices."""
    ships = silver_shipments
    readings = silver_tracking.groupBy("shipment_id").agg(
        F.count(F.lit(1)).alias("readings"),
        F.max("temperature_c").alias("max_temperature_c"),
        F.sum(
            F.when(
                (F.col("temperature_c") < EXCURSION_LOW_C)
                | (F.col("temperature_c") > EXCURSION_HIGH_C),
                1,
            ).otherwise(0)
        ).alias("temperature_excursions"),
    )
    out = ships.join(readings, "shipment_id", "left").fillna(
        {"readings": 0, "temperature_excursions": 0}
    )
    out = out.withColumn(
        "delivery_hours",
        (F.unix_timestamp("delivered_at") - F.unix_timestamp("shipped_at")) / 3600.0,
    )
    return conform_to(out, FACT_SHIPMENTS).orderBy("shipment_id")

"""GOLD dimensions, each one pure function with an explicit output schema."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.gold.reference import COUNTRIES, STATUSES

# No personal data (the registry's `pii: true` columns): user_key, the pseudonymous key, stands
# for the person wherever GOLD leaves the restricted schema; USER_PII holds the clear values.
DIM_USERS = StructType(
    [
        StructField("user_sk", LongType(), False),
        StructField("user_id", LongType(), False),
        StructField("user_key", StringType(), True),
        StructField("country", StringType(), True),
        StructField("status", StringType(), True),
        StructField("signup_ts", TimestampType(), True),
        StructField("valid_from", TimestampType(), False),
        StructField("valid_to", TimestampType(), True),
        StructField("is_current", BooleanType(), False),
    ]
)
USER_PII = StructType(
    [
        StructField("user_key", StringType(), False),
        StructField("user_id", LongType(), False),
        StructField("email", StringType(), True),
        StructField("full_name", StringType(), True),
        StructField("valid_from", TimestampType(), False),
        StructField("valid_to", TimestampType(), True),
        StructField("is_current", BooleanType(), False),
    ]
)
DIM_DATE = StructType(
    [
        StructField("date_key", IntegerType(), False),
        StructField("date", DateType(), False),
        StructField("year", IntegerType(), False),
        StructField("quarter", IntegerType(), False),
        StructField("month", IntegerType(), False),
        StructField("day", IntegerType(), False),
        StructField("day_of_week", IntegerType(), False),
        StructField("is_weekend", BooleanType(), False),
    ]
)
DIM_COUNTRY = StructType(
    [
        StructField("country_code", StringType(), False),
        StructField("country_name", StringType(), True),
        StructField("region", StringType(), True),
    ]
)
DIM_STATUS = StructType(
    [
        StructField("status", StringType(), False),
        StructField("is_revenue", BooleanType(), False),
        StructField("is_refund", BooleanType(), False),
        StructField("counts_toward_gmv", BooleanType(), False),
    ]
)
DIM_PRODUCT = StructType(
    [
        StructField("product_id", StringType(), False),
        StructField("name", StringType(), True),
        StructField("category", StringType(), True),
        StructField("unit_price", DecimalType(12, 2), True),
        StructField("updated_at", TimestampType(), True),
    ]
)


def conform_to(df: DataFrame, schema: StructType) -> DataFrame:
    """Select and cast to the declared schema, in its column order."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def date_key(col) -> F.Column:
    return F.date_format(col, "yyyyMMdd").cast("int")


# The explicit unknown member: facts whose user is not (yet) in the dimension are keyed to it
# (a late-arriving member; the next GOLD build re-keys them once the user has arrived, GOLD being
# rebuilt from SILVER). Its validity is empty (valid_to = valid_from), so no point-in-time join
# ever matches it, and it is never current.
UNKNOWN_USER_SK = -1
UNKNOWN_USER_ID = -1
UNKNOWN_VALID = datetime(1970, 1, 1, tzinfo=UTC)


def pseudonym(key: bytes):
    """user_id -> user_key: hex HMAC-SHA256 under `key` of the id's decimal text; stable for a
    person across versions and runs, and not reversible or recomputable without the key. A
    Python UDF on purpose: the key travels to the executors inside the function, so it never
    appears in a query plan, the Spark UI or an event log, as a literal in a built-in
    function's arguments would."""
    if len(key) < 32:
        raise ValueError(f"the pseudonymisation key has {len(key)} bytes; at least 32 are needed")

    def user_key(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()

    return F.udf(user_key, StringType())


def build_dim_users(silver_users: DataFrame, pii_key: bytes) -> DataFrame:
    """One row per SCD2 version, without personal data; the surrogate key is a stable hash of
    (user_id, valid_from), user_key the pseudonymous key; plus the unknown member
    (UNKNOWN_USER_SK, no user_key)."""
    keyed = silver_users.withColumn("user_sk", F.xxhash64("user_id", "valid_from")).withColumn(
        "user_key", pseudonym(pii_key)(F.col("user_id"))
    )
    out = conform_to(keyed, DIM_USERS)
    unknown = silver_users.sparkSession.createDataFrame(
        [
            (
                UNKNOWN_USER_SK,
                UNKNOWN_USER_ID,
                None,
                None,
                None,
                None,
                UNKNOWN_VALID,
                UNKNOWN_VALID,
                False,
            )
        ],
        DIM_USERS,
    )
    return out.unionByName(unknown).orderBy("user_id", "valid_from")


def build_user_pii(silver_users: DataFrame, pii_key: bytes) -> DataFrame:
    """The clear personal data of every SCD2 version, by user_key: loaded only into the
    warehouse's restricted schema (docs/pii.md)."""
    keyed = silver_users.withColumn("user_key", pseudonym(pii_key)(F.col("user_id")))
    return conform_to(keyed, USER_PII).orderBy("user_id", "valid_from")


def build_dim_date(spark: SparkSession, first, last) -> DataFrame:
    """A calendar covering [first, last] (dates)."""
    days = spark.createDataFrame([(first, last)], "a date, b date").select(
        F.explode(F.sequence("a", "b")).alias("date")
    )
    out = days.select(
        date_key("date").alias("date_key"),
        "date",
        F.year("date").alias("year"),
        F.quarter("date").alias("quarter"),
        F.month("date").alias("month"),
        F.dayofmonth("date").alias("day"),
        F.dayofweek("date").alias("day_of_week"),
        F.dayofweek("date").isin(1, 7).alias("is_weekend"),
    )
    return conform_to(out, DIM_DATE).orderBy("date")


def build_dim_country(spark: SparkSession, codes: DataFrame) -> DataFrame:
    """Every country code seen in the data, named where the reference table knows it."""
    ref = spark.createDataFrame(
        [(c, n, r) for c, (n, r) in COUNTRIES.items()],
        "country_code string, name string, region string",
    )
    seen = codes.select(F.col("country").alias("country_code")).where("country_code IS NOT NULL")
    out = seen.distinct().join(F.broadcast(ref), "country_code", "left")
    return conform_to(out.withColumnRenamed("name", "country_name"), DIM_COUNTRY).orderBy(
        "country_code"
    )


def build_dim_status(spark: SparkSession) -> DataFrame:
    rows = [(s, *flags) for s, flags in STATUSES.items()]
    return spark.createDataFrame(rows, DIM_STATUS).orderBy("status")


def build_dim_product(silver_products: DataFrame) -> DataFrame:
    """The current version of each product (SILVER keeps its price and category history)."""
    return conform_to(silver_products.where("is_current"), DIM_PRODUCT).orderBy("product_id")

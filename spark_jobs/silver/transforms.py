"""SILVER transforms driven by a dataset's registry spec (config/datasets.yaml, `silver:`).

Pure DataFrame -> DataFrame functions: conform drifted column names, standardise nulls, type
and clean every column, flag quarantine reasons, and pick one winner per business key. A dataset's
batch (spark_jobs/silver/batch.py) does the reading, merging and writing.
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DataType,
    DecimalType,
    DoubleType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs import contract as C

# The input contract (spark_jobs/contract.py): null spellings, reason codes in the order they
# are reported, the email pattern, and the Spark pattern of each accepted timestamp format
# (epoch values are told apart by digit count below).
NULL_SPELLINGS = list(C.NULL_SPELLINGS)
REASONS = list(C.ROW_REASON_CODES)
TIMESTAMP_PATTERNS = list(
    dict.fromkeys(f.spark_pattern for f in C.TIMESTAMP_FORMATS if f.spark_pattern)
)
EMAIL_PATTERN = C.EMAIL_PATTERN
MONEY = DecimalType(18, 2)
TYPES: dict[str, DataType] = {
    "string": StringType(),
    "long": LongType(),
    "double": DoubleType(),
    "timestamp": TimestampType(),
    "enum": StringType(),
    "money": MONEY,
    "currency": StringType(),
    "country": StringType(),
    "email": StringType(),
    "json": StringType(),
}
EXTRA = "_extra"
SOURCE = "source_file"
DETAIL = "quarantine_detail"  # who, when and why, for rows quarantined by a whole-file rule


def normalise_name(name: str) -> str:
    """`Event Id`, `eventId`, `EVENT_ID` and `event_id` all become `eventid`."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def silver_schema(spec: dict) -> StructType:
    """The typed business columns of a dataset, in registry order."""
    return StructType(
        [
            StructField(name, TYPES[col["type"]], not col.get("required", False))
            for name, col in spec["columns"].items()
        ]
    )


def _as_string(df: DataFrame, name: str) -> Column:
    dtype = df.schema[name].dataType
    col = F.col(f"`{name}`")
    if isinstance(dtype, StructType | MapType) or dtype.typeName() == "array":
        return F.to_json(col)
    return col.cast("string")


def conform(df: DataFrame, spec: dict) -> DataFrame:
    """Map drifted names onto the canonical columns (as strings), fill missing ones with null,
    and keep unknown columns in an `_extra` map so nothing is lost."""
    canonical = {normalise_name(c): c for c in spec["columns"]}
    mapping: dict[str, str] = {}
    extras: list[str] = []
    for name in df.columns:
        if name == SOURCE:
            continue
        target = canonical.get(normalise_name(name))
        if target and target not in mapping:
            mapping[target] = name
        else:
            extras.append(name)
    columns = [
        (_as_string(df, mapping[c]) if c in mapping else F.lit(None).cast("string")).alias(c)
        for c in spec["columns"]
    ]
    if extras:
        pairs = [x for e in extras for x in (F.lit(e), _as_string(df, e))]
        extra = F.map_filter(F.create_map(*pairs), lambda _k, v: v.isNotNull())
    else:
        extra = F.lit(None).cast(MapType(StringType(), StringType()))
    source = F.col(SOURCE) if SOURCE in df.columns else F.lit(None).cast("string")
    return df.select(*columns, extra.alias(EXTRA), source.alias(SOURCE))


def standardise_null(col: Column) -> Column:
    trimmed = F.trim(col)
    return F.when(trimmed.isin(NULL_SPELLINGS), None).otherwise(trimmed)


def parse_timestamp(col: Column) -> Column:
    return (
        F.when(col.rlike(r"^\d{13}$"), F.timestamp_millis(col.cast("long")))
        .when(col.rlike(r"^\d{10}$"), F.timestamp_seconds(col.cast("long")))
        .otherwise(F.coalesce(*[F.try_to_timestamp(col, F.lit(p)) for p in TIMESTAMP_PATTERNS]))
    )


def parse_money(col: Column) -> Column:
    return F.regexp_replace(col, r"[$€£,\s]", "").cast(MONEY)


def _typed(kind: str, spec: dict, col: Column) -> tuple[Column, list[tuple[str, Column]]]:
    """(typed value, [(reason, failed-condition)]) for one non-null standardised column."""
    present = col.isNotNull()
    if kind == "timestamp":
        value = parse_timestamp(col)
        return value, [(C.INVALID_TIMESTAMP, present & value.isNull())]
    if kind in ("long", "double"):
        value = col.cast(kind)
        return value, [(C.INVALID_NUMBER, present & value.isNull())]
    if kind == "money":
        value = parse_money(col)
        return value, [
            (C.INVALID_NUMBER, present & value.isNull()),
            (C.NEGATIVE_AMOUNT, value < 0),
        ]
    if kind == "enum":
        value = F.lower(col)
        return value, [(C.UNKNOWN_ENUM, present & ~value.isin(spec["values"]))]
    if kind == "currency":
        value = F.upper(col)
        return value, [(C.INVALID_CURRENCY, present & ~value.isin(spec["values"]))]
    if kind == "country":
        return F.upper(col), []
    if kind == "email":
        return col, [(C.MALFORMED_EMAIL, present & ~col.rlike(EMAIL_PATTERN))]
    return col, []


def clean(conformed: DataFrame, spec: dict) -> DataFrame:
    """Typed columns, the original strings in `_raw`, and `quarantine_reason` (null if clean)."""
    raw = F.struct(*[F.col(c) for c in spec["columns"]]).alias("_raw")
    typed: list[Column] = []
    failures: dict[str, list[Column]] = {r: [] for r in REASONS}
    for name, col_spec in spec["columns"].items():
        std = standardise_null(F.col(name))
        value, rules = _typed(col_spec["type"], col_spec, std)
        typed.append(value.cast(TYPES[col_spec["type"]]).alias(name))
        if col_spec.get("required"):
            failures[C.MISSING_REQUIRED_KEY].append(std.isNull())
        for reason, failed in rules:
            failures[reason].append(F.coalesce(failed, F.lit(False)))
    flags = [
        F.when(F.greatest(*conds) if len(conds) > 1 else conds[0], F.lit(reason))
        for reason, conds in failures.items()
        if conds
    ]
    reason = F.concat_ws(",", *flags)
    # One select: the rules must see the incoming strings, not the typed columns.
    return conformed.select(
        *typed,
        F.col(EXTRA),
        F.col(SOURCE),
        raw,
        F.when(reason != "", reason).alias("quarantine_reason"),
        F.lit(None).cast("string").alias(DETAIL),
    )


def quarantine_files(cleaned: DataFrame, whole: dict[str, tuple[str, str]]) -> DataFrame:
    """Every row of the files in `whole` (bronze key -> (reason, detail)) quarantined with that
    reason; the detail keeps the row's own reasons, if it had any."""
    if not whole:
        return cleaned
    source, own = F.col(SOURCE), F.col("quarantine_reason")
    reason, detail = F.lit(None).cast("string"), F.lit(None).cast("string")
    for key, (why, text) in sorted(whole.items()):
        reason = F.when(source == key, F.lit(why)).otherwise(reason)
        detail = F.when(source == key, F.concat_ws("; row reasons: ", F.lit(text), own)).otherwise(
            detail
        )
    # One withColumns: both see the row's own reason, not the replaced one.
    return cleaned.withColumns(
        {"quarantine_reason": F.coalesce(reason, own), DETAIL: F.coalesce(detail, F.col(DETAIL))}
    )


def quarantined(cleaned: DataFrame) -> DataFrame:
    """Bad rows as they arrived (strings), with the reason codes and the source file."""
    bad = cleaned.where(F.col("quarantine_reason").isNotNull())
    return bad.select("_raw.*", EXTRA, SOURCE, "quarantine_reason", DETAIL)


def valid(cleaned: DataFrame, spec: dict) -> DataFrame:
    good = cleaned.where(F.col("quarantine_reason").isNull()).drop(
        "_raw", "quarantine_reason", DETAIL
    )
    good = good.withColumn("_row_hash", row_hash(spec))
    if spec.get("partition_date_from"):
        good = good.withColumn("event_date", F.to_date(spec["partition_date_from"]))
    return good


def row_hash(spec: dict, columns: list[str] | None = None) -> Column:
    """A hash of the business values (not of metadata such as the source file)."""
    return F.xxhash64(*[F.col(c) for c in (columns or list(spec["columns"]))])


def winners(valid_rows: DataFrame, spec: dict) -> DataFrame:
    """One row per business key: the latest `order_by` wins; ties broken deterministically."""
    order = Window.partitionBy(*spec["key"]).orderBy(
        F.col(spec["order_by"]).desc(), F.col("_row_hash").desc(), F.col(SOURCE).asc()
    )
    ranked = valid_rows.withColumn("_rank", F.row_number().over(order))
    return ranked.where("_rank = 1").drop("_rank")


def duplicate_counts(valid_rows: DataFrame, spec: dict) -> tuple[int, int]:
    """(exact duplicates, rows superseded by a later version of the same key)."""
    stats = valid_rows.agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct(*spec["key"], "_row_hash").alias("distinct_rows"),
        F.countDistinct(*spec["key"]).alias("keys"),
    ).collect()[0]
    return stats.rows - stats.distinct_rows, stats.distinct_rows - stats.keys


def scd2_versions(
    incoming: DataFrame, history: DataFrame, spec: dict
) -> tuple[DataFrame, DataFrame]:
    """(new SCD2 versions, validity changes of stored versions) from a batch and the stored
    versions (`history`: every version of the batch's keys). A row opens a version when its
    tracked attributes differ from the version before it in time, stored or in the batch, so
    re-sent unchanged records produce nothing and a version older than the current one (a
    snapshot that arrived late) is placed between its neighbours instead of becoming current.
    Each version is valid until the next one begins; a stored version whose end moves is
    returned as (key, `_valid_from`, `_close_at`, null when it becomes current again)."""
    key, order_by = spec["key"], spec["order_by"]
    batch = (
        incoming.dropDuplicates([*key, "_row_hash"])
        .withColumn("_scd_hash", row_hash(spec, spec["scd2_tracked"]))
        .withColumn("_known", F.lit(False))
    )
    known = history.select(
        *key,
        order_by,
        "_scd_hash",
        F.col("valid_to").alias("_stored_to"),
        F.lit(True).alias("_known"),
    )
    # At an equal time the stored version comes first: the same record sent again is no change.
    w = Window.partitionBy(*key).orderBy(F.col(order_by), F.col("_known").desc())
    prev = F.lag("_scd_hash").over(w)
    timeline = (
        batch.unionByName(known, allowMissingColumns=True)
        .withColumn("_opens", prev.isNull() | (prev != F.col("_scd_hash")))
        .where(F.col("_known") | F.col("_opens"))
        .withColumn("_next", F.lead(order_by).over(w))
    )
    new = (
        timeline.where(~F.col("_known"))
        .withColumn("valid_from", F.col(order_by))
        .withColumn("valid_to", F.col("_next"))
        .withColumn("is_current", F.col("valid_to").isNull())
        .drop("_known", "_stored_to", "_opens", "_next")
    )
    moved = timeline.where(F.col("_known") & ~F.col("_next").eqNullSafe(F.col("_stored_to")))
    return new, moved.select(
        *key, F.col(order_by).alias("_valid_from"), F.col("_next").alias("_close_at")
    )

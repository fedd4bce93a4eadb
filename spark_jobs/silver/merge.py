"""Writing the batch's good rows into the SILVER Delta table: a MERGE keeping the latest
version per key, or an SCD2 MERGE (close the current version, add the new ones) for datasets
with tracked columns. Both write the table on the first batch."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.columns import count_if
from spark_jobs.runtime import is_delta
from spark_jobs.silver import transforms as T


def merge_latest(
    spark: SparkSession, rows: DataFrame, total: int, path: str, spec: dict
) -> dict[str, int]:
    """Upsert winners (`total` of them, one per key): a newer version replaces the stored one;
    older or equal ones are dropped."""
    key, order_by = spec["key"], spec["order_by"]
    if not is_delta(spark, path):
        writer = rows.write.format("delta").mode("overwrite")
        if "event_date" in rows.columns:
            writer = writer.partitionBy("event_date")
        writer.save(path)
        return {"inserted": total, "exact": 0, "superseded": 0}
    # Matched before the MERGE: a Delta read re-resolves to the newest version when it runs
    # again, so matching afterwards would see the rows this MERGE inserted.
    rows = rows.cache()
    target = spark.read.format("delta").load(path)
    matched = rows.alias("s").join(target.select(*key, F.col("_row_hash").alias("_t_hash")), key)
    stats = matched.agg(
        F.count(F.lit(1)).alias("matched"),
        count_if(F.col("_row_hash") == F.col("_t_hash")).alias("exact"),
    ).collect()[0]
    exact = stats.exact or 0
    cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    table = DeltaTable.forPath(spark, path)
    (
        table.alias("t")
        .merge(rows.alias("s"), cond)
        .whenMatchedUpdateAll(condition=f"s.`{order_by}` > t.`{order_by}`")
        .whenNotMatchedInsertAll()
        .execute()
    )
    rows.unpersist()
    return {"inserted": total - stats.matched, "exact": exact, "superseded": stats.matched - exact}


def merge_scd2(spark: SparkSession, good: DataFrame, path: str, spec: dict) -> int:
    """Close the current version of changed keys and add the new versions, in one MERGE."""
    key = spec["key"]
    if is_delta(spark, path):
        current = spark.read.format("delta").load(path).where("is_current")
    else:
        current = good.limit(0).withColumn("_scd_hash", T.row_hash(spec, spec["scd2_tracked"]))
    new = T.scd2_versions(good, current, spec).cache()
    count = new.count()
    if not is_delta(spark, path):
        new.write.format("delta").mode("overwrite").save(path)
        return count
    closes = (
        new.groupBy(*key)
        .agg(F.min("valid_from").alias("_close_at"))
        .join(current.select(*key), key)
        .withColumn("_action", F.lit("close"))
    )
    staged = new.withColumn("_action", F.lit("insert")).unionByName(
        closes, allowMissingColumns=True
    )
    cond = "t.is_current AND s._action = 'close' AND " + " AND ".join(
        f"t.`{k}` = s.`{k}`" for k in key
    )
    columns = list(new.columns)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(staged.alias("s"), cond)
        .whenMatchedUpdate(set={"valid_to": "s._close_at", "is_current": "false"})
        .whenNotMatchedInsert(
            condition="s._action = 'insert'", values={c: f"s.`{c}`" for c in columns}
        )
        .execute()
    )
    new.unpersist()
    return count

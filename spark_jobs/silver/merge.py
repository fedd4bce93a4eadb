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
    """Add the batch's new versions and move the ends of the stored versions they fall after
    (closing the current one, or one in the history for a late older version), in one MERGE.
    Returns the number of new versions."""
    key = spec["key"]
    exists = is_delta(spark, path)
    if exists:
        stored = spark.read.format("delta").load(path)
        history = stored.join(good.select(*key).distinct(), key, "left_semi")
    else:
        history = (
            good.limit(0)
            .withColumn("_scd_hash", T.row_hash(spec, spec["scd2_tracked"]))
            .withColumn("valid_to", F.col(spec["order_by"]))
        )
    new, moved = T.scd2_versions(good, history, spec)
    # Materialised before the MERGE: a Delta read re-resolves to the newest version when it
    # runs again, and the MERGE's own commit would change what they say.
    new, moved = new.cache(), moved.cache()
    count = new.count()
    if not exists:
        new.write.format("delta").mode("overwrite").save(path)
        new.unpersist(), moved.unpersist()
        return count
    moved.count()
    staged = new.withColumn("_action", F.lit("insert")).unionByName(
        moved.withColumn("_action", F.lit("close")), allowMissingColumns=True
    )
    cond = "s._action = 'close' AND t.valid_from = s._valid_from AND " + " AND ".join(
        f"t.`{k}` = s.`{k}`" for k in key
    )
    columns = list(new.columns)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(staged.alias("s"), cond)
        .whenMatchedUpdate(set={"valid_to": "s._close_at", "is_current": "s._close_at IS NULL"})
        .whenNotMatchedInsert(
            condition="s._action = 'insert'", values={c: f"s.`{c}`" for c in columns}
        )
        .execute()
    )
    new.unpersist(), moved.unpersist()
    return count

"""SILVER -> GOLD job (Glue-compatible): build the marts as Delta tables and export each as
Parquet in warehouse column order for the COPY into the warehouse.
"""

from __future__ import annotations

import time

from spark_jobs.gold import marts
from spark_jobs.runtime import finish_job, start_job, write_metrics


def main() -> None:
    ctx = start_job("silver_to_gold", ["silver_path", "gold_path", "export_path", "metrics_path"])
    spark, args = ctx.spark, ctx.args
    started = time.time()

    silver_events = spark.read.format("delta").load(args["silver_path"])
    daily = marts.build_daily_event_counts(silver_events)
    daily.write.format("delta").mode("overwrite").option("overwriteSchema", True).save(
        args["gold_path"]
    )
    # The export is a plain Parquet copy of the committed Delta version, one file, so the
    # warehouse loader never sees uncommitted or vacuumed files.
    committed = spark.read.format("delta").load(args["gold_path"])
    committed.orderBy("event_date", "event_type").coalesce(1).write.mode("overwrite").parquet(
        args["export_path"]
    )
    metrics = {
        "stage": "silver_to_gold",
        "table": "daily_event_counts",
        "rows_in": silver_events.count(),
        "rows_out": committed.count(),
        "duration_s": round(time.time() - started, 3),
    }
    write_metrics(spark, args["metrics_path"], metrics)
    finish_job(ctx)


if __name__ == "__main__":
    main()

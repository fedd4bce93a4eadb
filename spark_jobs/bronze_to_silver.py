"""BRONZE -> SILVER job (Glue-compatible), driven by the registry's `silver:` specs.

For each dataset, one batch of the bronze files not processed yet (spark_jobs/silver/batch.py):
conform drifted columns, type and clean, quarantine bad rows with reason codes, deduplicate by
business key (latest wins), MERGE into the silver Delta table (SCD2 for datasets with tracked
columns), mark the files processed, check data quality. This script writes the stage's metrics
and fails when a check failed.
"""

from __future__ import annotations

import json
import time

from pyspark.sql import SparkSession

from spark_jobs.checks import DataQualityFailed
from spark_jobs.runtime import finish_job, start_job, write_metrics
from spark_jobs.silver.batch import process_dataset

ARGS = ["specs", "bronze_root", "silver_root", "quarantine_root", "batch_id", "metrics_path"]


def run(spark: SparkSession, args: dict[str, str]) -> dict:
    """SILVER for every dataset in `args["specs"]`: writes the stage's metrics and returns
    them; raises when a data-quality check failed (after the metrics are written)."""
    started = time.time()
    results = [
        process_dataset(
            spark,
            spec,
            args["bronze_root"],
            args["silver_root"],
            args["quarantine_root"],
            args["batch_id"],
        )
        for spec in json.loads(args["specs"])
    ]
    metrics = {
        "stage": "bronze_to_silver",
        "datasets": {r["dataset"]: r for r in results},
        "started_at": round(started, 3),
        "duration_s": round(time.time() - started, 3),
    }
    write_metrics(spark, args["metrics_path"], metrics)
    failed = [
        c | {"dataset": r["dataset"]} for r in results for c in r.get("dq", []) if not c["passed"]
    ]
    if failed:
        raise DataQualityFailed(failed)
    return metrics


def main() -> None:
    ctx = start_job("bronze_to_silver", ARGS)
    run(ctx.spark, ctx.args)
    finish_job(ctx)


if __name__ == "__main__":
    main()

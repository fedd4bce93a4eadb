"""One dataset's SILVER batch, start to end: read the pending bronze files, clean and type
them, judge the batch (per-file figures, files quarantined whole, the error rate), merge the
good rows, append the bad ones to the quarantine, mark the files processed, check the table,
and return metrics that reconcile:
rows_read = rows_quarantined + duplicates (+ unchanged SCD2 re-sends) + rows kept.

The order of the writes is what makes a crash safe: the MERGE and the quarantine append are
idempotent, and the bookmark is written last, so a batch cut short is processed again whole.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.silver import transforms as T
from spark_jobs.silver.bookmark import mark_processed, pending_files, releases
from spark_jobs.silver.extract import extract
from spark_jobs.silver.merge import merge_latest, merge_scd2
from spark_jobs.silver.quality import over_limit, quality_checks
from spark_jobs.silver.quarantine import (
    file_figures,
    quarantine_samples,
    whole_files,
    write_quarantine,
)


@dataclass
class Judgement:
    """The batch's figures from its (file, reason) aggregate. The files quarantined whole
    (released by an operator, or over max_file_error_rate) are left out of the error rate: the
    rest of the batch is judged on its own."""

    per_file: dict[str, dict]
    whole: dict[str, tuple[str, str]]
    rows_read: int
    reasons: dict[str, int]
    judged_rows: int
    judged_bad: int
    extras: list[str]

    @classmethod
    def of(cls, by_file: list, released: dict, spec: dict) -> Judgement:
        per_file = file_figures(by_file)
        whole = whole_files(per_file, released, spec)
        reasons: dict[str, int] = {}
        for key, figures in per_file.items():
            own = {whole[key][0]: figures["rows"]} if key in whole else figures["reasons"]
            for reason, n in own.items():
                reasons[reason] = reasons.get(reason, 0) + n
        judged = [f for k, f in per_file.items() if k not in whole]
        return cls(
            per_file=per_file,
            whole=whole,
            rows_read=sum(f["rows"] for f in per_file.values()),
            reasons=reasons,
            judged_rows=sum(f["rows"] for f in judged),
            judged_bad=sum(f["quarantined"] for f in judged),
            extras=sorted({k for r in by_file for k in r.extras}),
        )

    @property
    def quarantined(self) -> int:
        return sum(self.reasons.values())

    @property
    def error_rate(self) -> float:
        return self.judged_bad / self.judged_rows if self.judged_rows else 0.0

    def quarantined_whole(self) -> list[dict]:
        return [
            {"bronze_key": k, "rows": self.per_file[k]["rows"], "reason": why, "detail": text}
            for k, (why, text) in sorted(self.whole.items())
        ]


def per_file_aggregate(read: DataFrame) -> list:
    """Rows read, quarantine reasons and extra column names per file in one job (each Spark
    action costs far more than the rows it counts at these sizes; `clean` keeps every row)."""
    return (
        read.groupBy(T.SOURCE, "quarantine_reason")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.array_distinct(F.flatten(F.collect_set(F.map_keys(T.EXTRA)))).alias("extras"),
        )
        .collect()
    )


def merge_good_rows(
    spark: SparkSession, good: DataFrame, good_rows: int, path: str, spec: dict
) -> tuple[dict, dict]:
    """(rows kept, duplicates dropped) after merging the good rows into the SILVER table."""
    if spec.get("scd2_tracked"):
        exact = good_rows - good.dropDuplicates([*spec["key"], "_row_hash"]).count()
        new_versions = merge_scd2(spark, good, path, spec)
        kept = {
            "scd2_new_versions": new_versions,
            "scd2_unchanged": good_rows - exact - new_versions,
        }
        return kept, {"exact": exact, "superseded_by_later": 0}
    exact, superseded = T.duplicate_counts(good, spec)
    winners = good_rows - exact - superseded  # one per key
    merged = merge_latest(spark, T.winners(good, spec), winners, path, spec)
    duplicates = {
        "exact": exact + merged["exact"],
        "superseded_by_later": superseded + merged["superseded"],
    }
    return {"rows_inserted": merged["inserted"]}, duplicates


def process_dataset(
    spark: SparkSession,
    spec: dict,
    bronze_root: str,
    silver_root: str,
    quarantine_root: str,
    batch_id: str,
) -> dict:
    dataset = spec["dataset"]
    path = f"{silver_root}/{dataset}"
    files = pending_files(spark, bronze_root, silver_root, dataset, spec.get("source", "files"))
    metrics: dict[str, Any] = {"dataset": dataset, "files": len(files)}
    if not files:
        return {**metrics, "rows_read": 0, "skipped": "no new bronze files"}
    released = releases(spark, silver_root, dataset, {key for _f, _d, key in files})
    t0 = time.time()
    read = T.clean(extract(spark, bronze_root, files, spec), spec).cache()
    batch = Judgement.of(per_file_aggregate(read), released, spec)
    t1 = time.time()
    cleaned = T.quarantine_files(read, batch.whole)
    good = T.valid(cleaned, spec).withColumn("_batch_id", F.lit(batch_id)).cache()
    good_rows = batch.rows_read - batch.quarantined  # `valid` is the rows without a reason
    t2 = time.time()
    if batch.error_rate > spec["max_error_rate"]:
        # Nothing is written and the files stay pending; the failed check goes into the job's
        # metrics and fails the job (without retries: the same files would fail the same way)
        # and names the worst files and the command that releases them.
        for frame in (read, good):
            frame.unpersist()
        return {
            **metrics,
            "rows_read": batch.rows_read,
            "rows_quarantined": batch.reasons,
            "quarantined_whole": batch.quarantined_whole(),
            **over_limit(
                dataset, spec, batch.per_file, batch.whole, batch.judged_bad, batch.judged_rows
            ),
        }
    kept, duplicates = merge_good_rows(spark, good, good_rows, path, spec)
    write_quarantine(
        spark,
        T.quarantined(cleaned).withColumn("_batch_id", F.lit(batch_id)),
        f"{quarantine_root}/{dataset}",
        spec,
    )
    samples = quarantine_samples(cleaned) if batch.quarantined else {}
    mark_processed(spark, silver_root, dataset, files, batch_id)
    t3 = time.time()
    table = spark.read.format("delta").load(path)
    checks, silver_rows = quality_checks(table, spec, batch.judged_rows, batch.judged_bad)
    for frame in (read, good):
        frame.unpersist()
    return {
        **metrics,
        "rows_read": batch.rows_read,
        "rows_quarantined": dict(sorted(batch.reasons.items())),
        "quarantined_whole": batch.quarantined_whole(),
        "quarantine_samples": samples,
        "duplicates_dropped": duplicates,
        **kept,
        "extra_columns": batch.extras,
        "silver_rows_total": silver_rows,  # current rows only for SCD2
        "dq": checks,
        "seconds": {
            "read": round(t1 - t0, 2),
            "transform": round(t2 - t1, 2),
            "write": round(t3 - t2, 2),
        },
    }

"""The row quarantine: bad rows appended idempotently with their reasons, per-file figures,
the files quarantined whole (released by an operator, or over max_file_error_rate), and the
sample rows the run report shows."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.runtime import is_delta
from spark_jobs.silver import release as R
from spark_jobs.silver import transforms as T

SAMPLES_PER_REASON = 3  # quarantined rows per reason kept in the metrics for the run report


def write_quarantine(spark: SparkSession, bad: DataFrame, path: str, spec: dict) -> None:
    """Append bad rows idempotently: a re-processed file adds no second copy."""
    raw_cols = [*spec["columns"], T.SOURCE]
    keyed = bad.withColumn("_row_hash", F.xxhash64(*[F.col(c) for c in raw_cols]))
    keyed = keyed.withColumn(
        "_dup_index",
        F.row_number().over(Window.partitionBy(T.SOURCE, "_row_hash").orderBy("_row_hash")),
    )
    if not is_delta(spark, path):
        keyed.write.format("delta").mode("overwrite").save(path)
        return
    cond = " AND ".join(f"t.{c} <=> s.{c}" for c in (T.SOURCE, "_row_hash", "_dup_index"))
    # Schema evolution: a quarantine written before a column existed (quarantine_detail) gets it.
    DeltaTable.forPath(spark, path).alias("t").merge(
        keyed.alias("s"), cond
    ).withSchemaEvolution().whenNotMatchedInsertAll().execute()


def quarantine_samples(cleaned: DataFrame, per_reason: int = SAMPLES_PER_REASON) -> dict:
    """A few quarantined rows per reason, as they arrived (values cut to 200 characters), for
    the run report; the first rows by source file, so a rerun shows the same ones."""
    bad = T.quarantined(cleaned)
    rank = Window.partitionBy("quarantine_reason").orderBy(T.SOURCE, *bad.columns[:1])
    picked = bad.withColumn("_n", F.row_number().over(rank)).where(F.col("_n") <= per_reason)
    samples: dict[str, list[dict]] = {}
    for row in picked.orderBy("quarantine_reason", "_n").drop("_n", T.EXTRA).collect():
        values = row.asDict()
        reason = values.pop("quarantine_reason")
        samples.setdefault(reason, []).append(
            {k: (None if v is None else str(v)[:200]) for k, v in values.items()}
        )
    return samples


def file_figures(by_file: list) -> dict[str, dict]:
    """Per bronze file: rows, quarantined rows and rows per reason, from the (file, reason)
    aggregate."""
    out: dict[str, dict] = {}
    for r in by_file:
        f = out.setdefault(r[T.SOURCE], {"rows": 0, "quarantined": 0, "reasons": {}})
        f["rows"] += r.rows
        if r.quarantine_reason:
            f["quarantined"] += r.rows
            f["reasons"][r.quarantine_reason] = r.rows
    return out


def whole_files(per_file: dict, released: dict, spec: dict) -> dict[str, tuple[str, str]]:
    """Files whose every row goes to the quarantine, bronze key -> (reason, detail): those an
    operator released, and (with `max_file_error_rate` set) those over that limit on their own."""
    out = {key: (R.RELEASED, R.detail(record)) for key, record in released.items()}
    limit = spec.get("max_file_error_rate")
    if limit is not None:
        for key, f in per_file.items():
            rate = f["quarantined"] / f["rows"] if f["rows"] else 0.0
            if key not in out and rate > limit:
                out[key] = (
                    R.FILE_OVER_LIMIT,
                    f"{f['quarantined']} of {f['rows']} rows bad "
                    f"({rate:.1%}) > max_file_error_rate {limit:.1%}",
                )
    return out

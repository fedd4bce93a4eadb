"""BRONZE -> SILVER job (Glue-compatible), driven by the registry's `silver:` specs.

For each dataset: read only the bronze files not processed yet (the ingestion log minus the
processed-files log, a bookmark that works the same locally and on Glue), conform drifted
columns, type and clean, quarantine bad rows with reason codes, deduplicate by business key
(latest wins), then MERGE into the silver Delta table (SCD2 for datasets with tracked columns),
check data quality and write metrics that reconcile:
rows_read = rows_quarantined + duplicates (+ unchanged SCD2 re-sends) + rows kept.
"""

from __future__ import annotations

import json
import time
from functools import reduce
from operator import or_
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.checks import describe_failed
from spark_jobs.columns import count_if
from spark_jobs.runtime import finish_job, is_delta, path_exists, start_job, write_metrics
from spark_jobs.silver import release as R
from spark_jobs.silver import transforms as T

PROCESSED = "_state/processed_files"
LOG_FIELDS = "outcome string, format string, delimiter string, target_key string"
SAMPLES_PER_REASON = 3  # quarantined rows per reason kept in the metrics for the run report
WORST_FILES = 10  # files named (worst error rate first) when a batch fails its error rate


def _exists(spark: SparkSession, path: str) -> bool:
    return is_delta(spark, path)


def pending_files(
    spark: SparkSession, bronze_root: str, silver_root: str, dataset: str
) -> list[tuple[str, str | None, str]]:
    """(format, delimiter, bronze key) of the dataset's bronze files not yet processed."""
    log = f"{bronze_root}/_ingestion_log/{dataset}/"
    if not path_exists(spark, log):
        return []
    records = (
        spark.read.schema(LOG_FIELDS)
        .json(log, recursiveFileLookup=True)  # no inference pass
        .where(F.col("outcome") == "bronze")
        .select("format", "delimiter", "target_key")
        .distinct()
    )
    if _exists(spark, f"{silver_root}/{PROCESSED}"):
        done = (
            spark.read.format("delta")
            .load(f"{silver_root}/{PROCESSED}")
            .where(F.col("dataset") == dataset)
            .select(F.col("bronze_key").alias("target_key"))
        )
        records = records.join(done, "target_key", "left_anti")
    return sorted((r.format, r.delimiter, r.target_key) for r in records.collect())


def releases(spark: SparkSession, silver_root: str, dataset: str, pending: set[str]) -> dict:
    """The operator's release records (spark_jobs.silver.release) of still pending files."""
    folder = f"{silver_root}/{R.RELEASES}/{dataset}/"
    if not pending or not path_exists(spark, folder):
        return {}
    rows = spark.read.schema(R.FIELDS).json(folder).where(F.col("bronze_key").isin(*pending))
    return {r.bronze_key: r.asDict() for r in rows.collect()}


def read_file(spark: SparkSession, path: str, fmt: str, delimiter: str | None) -> DataFrame:
    # One read per file: files of one dataset spell their columns differently, and a shared
    # case-insensitive schema would collide (event_id vs EVENT_ID).
    if fmt == "csv":
        return spark.read.csv(path, header=True, sep=delimiter or ",", inferSchema=False)
    if fmt in ("json", "ndjson"):
        return spark.read.json(path, multiLine=fmt == "json", primitivesAsString=True)
    return spark.read.parquet(path)


def extract(spark: SparkSession, bronze_root: str, files: list, spec: dict) -> DataFrame:
    frames = [
        T.conform(
            read_file(spark, f"{bronze_root}/{key}", fmt, delim).withColumn(T.SOURCE, F.lit(key)),
            spec,
        )
        for fmt, delim, key in files
    ]
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def merge_latest(
    spark: SparkSession, rows: DataFrame, total: int, path: str, spec: dict
) -> dict[str, int]:
    """Upsert winners (`total` of them, one per key): a newer version replaces the stored one;
    older or equal ones are dropped."""
    key, order_by = spec["key"], spec["order_by"]
    if not _exists(spark, path):
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
    if _exists(spark, path):
        current = spark.read.format("delta").load(path).where("is_current")
    else:
        current = good.limit(0).withColumn("_scd_hash", T.row_hash(spec, spec["scd2_tracked"]))
    new = T.scd2_versions(good, current, spec).cache()
    count = new.count()
    if not _exists(spark, path):
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


def write_quarantine(spark: SparkSession, bad: DataFrame, path: str, spec: dict) -> None:
    """Append bad rows idempotently: a re-processed file adds no second copy."""
    raw_cols = [*spec["columns"], T.SOURCE]
    keyed = bad.withColumn("_row_hash", F.xxhash64(*[F.col(c) for c in raw_cols]))
    keyed = keyed.withColumn(
        "_dup_index",
        F.row_number().over(Window.partitionBy(T.SOURCE, "_row_hash").orderBy("_row_hash")),
    )
    if not _exists(spark, path):
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


def quality_checks(
    table: DataFrame, spec: dict, rows_read: int, quarantined: int
) -> tuple[list[dict], int]:
    """Centralised checks on the silver table after the write (and the error rate), and the
    table's current row count, from one aggregate."""
    key = spec["key"]
    checks: list[dict[str, Any]] = []
    rate = quarantined / rows_read if rows_read else 0.0
    checks.append(
        {
            "check": "error_rate",
            "observed": round(rate, 5),
            "limit": spec["max_error_rate"],
            "passed": rate <= spec["max_error_rate"],
        }
    )
    live = table.where("is_current") if spec.get("scd2_tracked") else table

    # Every figure in one aggregate (one Spark job): the job's time goes on per-action cost.
    figures = [
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct(*key).alias("keys"),
        count_if(reduce(or_, [F.col(k).isNull() for k in key])).alias("null_keys"),
    ]
    accepted = [n for n, c in spec["columns"].items() if c["type"] in ("enum", "currency")]
    ranged = {n: c["range"] for n, c in spec["columns"].items() if c.get("range")}
    figures += [
        count_if(F.col(n).isNotNull() & ~F.col(n).isin(spec["columns"][n]["values"])).alias(
            f"accepted:{n}"
        )
        for n in accepted
    ]
    figures += [
        count_if(~F.col(n).between(low, high)).alias(f"range:{n}")
        for n, (low, high) in ranged.items()
    ]
    stats = live.agg(*figures).collect()[0].asDict()
    checks.append(
        {
            "check": "unique_key",
            "observed": stats["rows"] - stats["keys"],
            "limit": 0,
            "passed": stats["rows"] == stats["keys"],
        }
    )
    checks.append(
        {
            "check": "not_null_key",
            "observed": stats["null_keys"] or 0,
            "limit": 0,
            "passed": not stats["null_keys"],
        }
    )
    for name in spec["columns"]:
        if name in accepted:
            bad = stats[f"accepted:{name}"] or 0
            checks.append(
                {
                    "check": f"accepted_values:{name}",
                    "observed": bad,
                    "limit": 0,
                    "passed": bad == 0,
                }
            )
        if name in ranged:
            bad = stats[f"range:{name}"] or 0
            limit = spec["max_error_rate"] * max(stats["rows"], 1)
            checks.append(
                {"check": f"range:{name}", "observed": bad, "limit": limit, "passed": bad <= limit}
            )
    return checks, stats["rows"]


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


def over_limit(dataset: str, spec: dict, per_file: dict, whole: dict, bad: int, rows: int) -> dict:
    """The metrics of a batch over max_error_rate: the failed check, the worst files (their own
    error rates) and the command that releases them."""
    limit = spec["max_error_rate"]
    rate = bad / rows
    worst = sorted(
        (
            {
                "bronze_key": k,
                "rows": f["rows"],
                "quarantined": f["quarantined"],
                "error_rate": round(f["quarantined"] / f["rows"], 5),
            }
            for k, f in per_file.items()
            if k not in whole and f["quarantined"]
        ),
        key=lambda f: (-f["error_rate"], f["bronze_key"]),
    )[:WORST_FILES]
    # The fewest worst files whose release brings the rest under the limit: a file with a few
    # bad rows among many good ones is normal and is not proposed.
    culprits, left_bad, left_rows = [], bad, rows
    for w in worst:
        if left_rows and left_bad / left_rows <= limit:
            break
        culprits.append(w["bronze_key"])
        left_bad, left_rows = left_bad - w["quarantined"], left_rows - w["rows"]
    command = R.release_command(dataset, culprits)
    remedy = (
        f"fix the source and re-send, or quarantine the worst files whole and let the rest "
        f"through: {command} (see docs/troubleshooting.md, 'A SILVER batch over its error "
        f"rate')"
    )
    return {
        "skipped": (
            f"{bad} of {rows} rows quarantined ({rate:.1%}) is above max_error_rate "
            f"{limit:.1%} (config/datasets.yaml); nothing written"
        ),
        "worst_files": worst,
        "dq": [
            {
                "check": "error_rate",
                "observed": round(rate, 5),
                "limit": limit,
                "passed": False,
                "remedy": remedy,
            }
        ],
    }


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
    files = pending_files(spark, bronze_root, silver_root, dataset)
    metrics: dict[str, Any] = {"dataset": dataset, "files": len(files)}
    if not files:
        return {**metrics, "rows_read": 0, "skipped": "no new bronze files"}
    released = releases(spark, silver_root, dataset, {key for _f, _d, key in files})
    t0 = time.time()
    read = T.clean(extract(spark, bronze_root, files, spec), spec).cache()
    # Rows read, quarantine reasons and extra column names per file in one job (each Spark
    # action costs far more than the rows it counts at these sizes; `clean` keeps every row).
    by_file = (
        read.groupBy(T.SOURCE, "quarantine_reason")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.array_distinct(F.flatten(F.collect_set(F.map_keys(T.EXTRA)))).alias("extras"),
        )
        .collect()
    )
    t1 = time.time()
    per_file = file_figures(by_file)
    whole = whole_files(per_file, released, spec)
    # The files quarantined whole (released by an operator, or over max_file_error_rate) are
    # left out of the error rate: the rest of the batch is judged on its own.
    rows_read = sum(f["rows"] for f in per_file.values())
    reasons: dict[str, int] = {}
    for key, figures in per_file.items():
        own = {whole[key][0]: figures["rows"]} if key in whole else figures["reasons"]
        for reason, n in own.items():
            reasons[reason] = reasons.get(reason, 0) + n
    quarantined = sum(reasons.values())
    judged = [f for k, f in per_file.items() if k not in whole]
    judged_rows = sum(f["rows"] for f in judged)
    judged_bad = sum(f["quarantined"] for f in judged)
    extras = sorted({k for r in by_file for k in r.extras})
    cleaned = T.quarantine_files(read, whole)
    good = T.valid(cleaned, spec).withColumn("_batch_id", F.lit(batch_id)).cache()
    good_rows = rows_read - quarantined  # `valid` is the rows without a reason
    t2 = time.time()
    rate = judged_bad / judged_rows if judged_rows else 0.0
    quarantined_whole = [
        {"bronze_key": k, "rows": per_file[k]["rows"], "reason": why, "detail": text}
        for k, (why, text) in sorted(whole.items())
    ]
    if rate > spec["max_error_rate"]:
        # Nothing is written and the files stay pending; the failed check goes into the job's
        # metrics and fails the job (without retries: the same files would fail the same way)
        # and names the worst files and the command that releases them.
        for df in (read, good):
            df.unpersist()
        return {
            **metrics,
            "rows_read": rows_read,
            "rows_quarantined": reasons,
            "quarantined_whole": quarantined_whole,
            **over_limit(dataset, spec, per_file, whole, judged_bad, judged_rows),
        }
    if spec.get("scd2_tracked"):
        exact = good_rows - good.dropDuplicates([*spec["key"], "_row_hash"]).count()
        new_versions = merge_scd2(spark, good, path, spec)
        kept = {
            "scd2_new_versions": new_versions,
            "scd2_unchanged": good_rows - exact - new_versions,
        }
        duplicates = {"exact": exact, "superseded_by_later": 0}
    else:
        exact, superseded = T.duplicate_counts(good, spec)
        winners = good_rows - exact - superseded  # one per key
        merged = merge_latest(spark, T.winners(good, spec), winners, path, spec)
        duplicates = {
            "exact": exact + merged["exact"],
            "superseded_by_later": superseded + merged["superseded"],
        }
        kept = {"rows_inserted": merged["inserted"]}
    write_quarantine(
        spark,
        T.quarantined(cleaned).withColumn("_batch_id", F.lit(batch_id)),
        f"{quarantine_root}/{dataset}",
        spec,
    )
    samples = quarantine_samples(cleaned) if quarantined else {}
    done = spark.createDataFrame(
        [(dataset, key, batch_id) for _f, _d, key in files],
        "dataset string, bronze_key string, batch_id string",
    )
    mode = "append" if _exists(spark, f"{silver_root}/{PROCESSED}") else "overwrite"
    done.write.format("delta").mode(mode).save(f"{silver_root}/{PROCESSED}")
    t3 = time.time()
    table = spark.read.format("delta").load(path)
    checks, silver_rows = quality_checks(table, spec, judged_rows, judged_bad)
    for frame in (read, good):
        frame.unpersist()
    return {
        **metrics,
        "rows_read": rows_read,
        "rows_quarantined": dict(sorted(reasons.items())),
        "quarantined_whole": quarantined_whole,
        "quarantine_samples": samples,
        "duplicates_dropped": duplicates,
        **kept,
        "extra_columns": extras,
        "silver_rows_total": silver_rows,  # current rows only for SCD2
        "dq": checks,
        "seconds": {
            "read": round(t1 - t0, 2),
            "transform": round(t2 - t1, 2),
            "write": round(t3 - t2, 2),
        },
    }


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
        raise RuntimeError("data quality checks failed:\n" + describe_failed(failed))
    return metrics


def main() -> None:
    ctx = start_job("bronze_to_silver", ARGS)
    run(ctx.spark, ctx.args)
    finish_job(ctx)


if __name__ == "__main__":
    main()

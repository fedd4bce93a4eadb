"""kill -9 of the Spark driver in SILVER, then GOLD, on the native Spark cluster and S3 server.
SILVER is killed at its commit boundaries: once a dataset's MERGE and quarantine append have
committed but not its bookmark, and in the middle of users' SCD2 MERGE (Delta keeps the last
committed version; the killed run's data files are orphans no reader sees). The rerun completes
with nothing lost and nothing counted twice: every SILVER table, the quarantine per reason,
users' history and the bookmark equal the reference sample's manifest. GOLD killed mid-write
keeps a complete version of every table, and its rerun is byte-for-byte what an undisturbed run
published.

The killed runs are started exactly as Airflow starts them (spark-submit, a driver of their
own); the runs nobody kills (the first commit, the reruns) run the same job with the same
arguments on the test's SparkSession over the same S3 server, which saves a Spark application
start-up (~20 s) and a cold JVM each."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter

import pytest
from faults import run_in_process, spark_submit

from lakehouse import ingest
from lakehouse.config.registry import load_registry
from lakehouse.platform.pipeline import SAMPLE, drop_reference_batch
from spark_jobs.silver.bookmark import PROCESSED

MANIFEST = json.loads((SAMPLE / "manifest.json").read_text())
QUARANTINE = "rows"  # the quarantine zone's folder of rejected rows (the DAG's quarantine_root)
LOG_VERSION = re.compile(r"_delta_log/(\d{20})\.json$")


def versions(store, bucket: str, prefix: str = "") -> dict[str, int]:
    """Latest committed Delta version per table (folder) in a bucket, from the logs."""
    out: dict[str, int] = {}
    for obj in store.list(bucket, prefix):
        match = LOG_VERSION.search(obj.key)
        if match:
            table = obj.key[: match.start()].rstrip("/")
            out[table] = max(out.get(table, -1), int(match.group(1)))
    return out


def data_files(store, bucket: str, prefix: str = "") -> set[str]:
    return {
        o.key
        for o in store.list(bucket, prefix)
        if o.key.endswith(".parquet") and "_delta_log" not in o.key
    }


def kill_when(profile, task_id: str, name: str, happened, tmp_path, datasets=None):
    """Start the job as Airflow does; kill -9 its whole driver as soon as `happened()` returns
    something (polled every 10 ms: each poll lists one folder), and return that."""
    log = tmp_path / f"{task_id}-{name}.log"
    proc = spark_submit(profile, task_id, name, log, datasets)
    deadline = time.monotonic() + 600
    try:
        while not (seen := happened()):
            assert proc.poll() is None, f"the job ended before {name}:\n" + log.read_text()[-4000:]
            assert time.monotonic() < deadline, f"no {name} in 600 s"
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    return seen


def kill_mid_write(
    profile, store, task_id: str, bucket: str, tmp_path, prefix: str = "", datasets=None
) -> set:
    """Kill the job as soon as a new data file appears in `bucket` under `prefix`; returns the
    new (orphaned) data files."""
    before = data_files(store, bucket, prefix)

    def written() -> set[str]:
        return data_files(store, bucket, prefix) - before

    name = "mid-write" + (f"-{prefix.strip('/')}" if prefix else "")
    return kill_when(profile, task_id, name, written, tmp_path, datasets)


def kill_after_commit(profile, store, task_id: str, bucket: str, table: str, tmp_path) -> int:
    """Kill the job as soon as `table` (a folder of `bucket`) commits a new Delta version;
    returns that version."""
    log = f"{table}/_delta_log/"
    before = versions(store, bucket, log).get(table, -1)

    def committed() -> int | None:
        version = versions(store, bucket, log).get(table, -1)
        return version if version > before else None

    return kill_when(profile, task_id, f"after-{table.replace('/', '-')}", committed, tmp_path)


def silver_counts(s3_spark, profile) -> dict[str, tuple[int, int]]:
    """Rows and distinct business keys per silver table."""
    keys = {
        "events": ["event_id"],
        "transactions": ["transaction_id"],
        "shipment_tracking": ["device_id", "reading_ts"],
    }
    out = {}
    for table, key in keys.items():
        df = s3_spark.read.format("delta").load(profile.spark_uri("silver", table))
        out[table] = (df.count(), df.select(*key).distinct().count())
    return out


@pytest.fixture
def bronze(lake):
    """Batch 1 of the reference sample in BRONZE, batches 2 and 3 still in RAW."""
    profile, store = lake
    for batch in (1, 2, 3):
        drop_reference_batch(profile, SAMPLE, batch, store)
        if batch == 1:
            for dataset in load_registry().file_datasets:
                ingest.ingest_dataset(profile, dataset, store)
    return profile, store


def test_kill_9_mid_write_keeps_the_last_commit_and_the_rerun_completes(bronze, s3_spark, tmp_path):
    profile, store = bronze
    silver_bucket, gold_bucket = profile.zones.silver, profile.zones.gold

    # SILVER: batch 1 committed, then batches 2 and 3 killed at commit boundaries, then the rerun.
    run_in_process(s3_spark, profile, "bronze_to_silver", "b1")
    committed = versions(store, silver_bucket)
    assert set(committed) >= {"events", "transactions", "users", "shipment_tracking"}
    for dataset in load_registry().file_datasets:
        ingest.ingest_dataset(profile, dataset, store)
    kill_at_silver_commit_boundaries(profile, store, tmp_path)
    run_in_process(s3_spark, profile, "bronze_to_silver", "b2-3")
    assert_silver_is_the_manifest(s3_spark, profile)

    # GOLD: one undisturbed publish, a killed one, the rerun: identical content.
    run_in_process(s3_spark, profile, "silver_to_gold", "g1")
    first = versions(store, gold_bucket)
    assert len(first) >= 10, first  # the tables built from file datasets (no operational DB)
    digests = gold_digests(s3_spark, profile, first)
    kill_mid_write(profile, store, "silver_to_gold", gold_bucket, tmp_path)
    # GOLD publishes table after table: the table being written keeps its last commit; one
    # finished just before the kill may have committed its (identical) new version. Either
    # way a reader sees a complete version with the same content, never a partial one.
    after = versions(store, gold_bucket)
    assert set(after) == set(first)
    assert all(after[t] in (first[t], first[t] + 1) for t in first), (first, after)
    assert gold_digests(s3_spark, profile, first) == digests
    run_in_process(s3_spark, profile, "silver_to_gold", "g2")
    assert gold_digests(s3_spark, profile, first) == digests


def kill_at_silver_commit_boundaries(profile, store, tmp_path) -> None:
    """SILVER writes per dataset, in order: the MERGE, the quarantine append, the bookmark (the
    files marked processed). Two runs of batches 2-3 killed: the first once events' quarantine
    append committed (its MERGE before it, its bookmark not yet), the second, of users alone
    (the job's specs cut to it, so it does not first redo the other datasets), in the middle
    of users' SCD2 MERGE. A kill between a MERGE and its quarantine append is the first case's
    prefix: its rerun redoes the same two writes."""
    silver, quarantine = profile.zones.silver, profile.zones.quarantine

    def log_versions() -> dict[str, int]:
        return {**versions(store, silver), **versions(store, quarantine)}

    before = log_versions()
    appended = kill_after_commit(
        profile, store, "bronze_to_silver", quarantine, f"{QUARANTINE}/events", tmp_path
    )
    after = log_versions()
    assert appended == after[f"{QUARANTINE}/events"] > before[f"{QUARANTINE}/events"]
    assert after["events"] > before["events"], "events' MERGE commits before its quarantine"
    unchanged = {t: v for t, v in before.items() if t not in ("events", f"{QUARANTINE}/events")}
    assert {t: after[t] for t in unchanged} == unchanged, "nothing else, not the bookmark"

    before = after
    orphans = kill_mid_write(
        profile, store, "bronze_to_silver", silver, tmp_path, "users/", datasets=["users"]
    )
    assert log_versions() == before, "a killed SCD2 MERGE must not commit"
    assert orphans and all(store.exists(silver, k) for k in orphans)


def assert_silver_is_the_manifest(s3_spark, profile) -> None:
    """Every silver table, the quarantine and users' history equal the manifest; each bronze
    file is in the bookmark once."""
    from pyspark.sql import functions as F

    counts = silver_counts(s3_spark, profile)
    for table, (rows, distinct) in counts.items():
        assert rows == distinct == MANIFEST["datasets"][table]["silver_rows"], (table, counts)
    for dataset, expected in MANIFEST["datasets"].items():
        bad = s3_spark.read.format("delta").load(
            profile.spark_uri("quarantine", f"{QUARANTINE}/{dataset}")
        )
        reasons = {r[0]: r[1] for r in bad.groupBy("quarantine_reason").count().collect()}
        assert reasons == expected["quarantined_rows"], (dataset, reasons)
    users = s3_spark.read.format("delta").load(profile.spark_uri("silver", "users"))
    history = {str(r.user_id): r["count"] for r in users.groupBy("user_id").count().collect()}
    scd2 = MANIFEST["datasets"]["users"]["scd2"]
    assert history == scd2["versions_per_user"]
    assert users.where("is_current").count() == scd2["users"]
    marked = s3_spark.read.format("delta").load(profile.spark_uri("silver", PROCESSED))
    per_dataset = {
        r.dataset: (r.files, r.keys)
        for r in marked.groupBy("dataset")
        .agg(F.count("*").alias("files"), F.countDistinct("bronze_key").alias("keys"))
        .collect()
    }
    landed = Counter(
        f["dataset"] for b in MANIFEST["batches"] for f in b["files"] if f["expect"] == "bronze"
    )
    assert per_dataset == {d: (n, n) for d, n in landed.items()}, (per_dataset, landed)


def gold_digests(s3_spark, profile, tables) -> dict[str, tuple[int, int]]:
    """(rows, order-independent content hash) per gold Delta table."""
    from pyspark.sql import functions as F

    out = {}
    for name in sorted(tables):
        df = s3_spark.read.format("delta").load(profile.spark_uri("gold", name))
        row = df.select(F.count("*"), F.sum(F.xxhash64(*df.columns))).collect()[0]
        out[name] = (row[0], row[1])
    return out

"""kill -9 of the Spark driver while it writes SILVER, then GOLD, on the native Spark cluster and
S3 server: Delta keeps the last committed version of every table (the killed run's data files
are orphans no reader sees), and the rerun completes with nothing lost and nothing duplicated:
SILVER equals the reference sample's manifest, GOLD is byte-for-byte what an undisturbed run
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

import pytest
from faults import run_in_process, spark_submit

from lakehouse import ingest
from lakehouse.config.registry import load_registry
from lakehouse.platform.pipeline import SAMPLE, drop_reference_batch

MANIFEST = json.loads((SAMPLE / "manifest.json").read_text())
LOG_VERSION = re.compile(r"_delta_log/(\d{20})\.json$")


def versions(store, bucket: str) -> dict[str, int]:
    """Latest committed Delta version per table (folder) in a bucket, from the logs."""
    out: dict[str, int] = {}
    for obj in store.list(bucket):
        match = LOG_VERSION.search(obj.key)
        if match:
            table = obj.key[: match.start()].rstrip("/")
            out[table] = max(out.get(table, -1), int(match.group(1)))
    return out


def data_files(store, bucket: str) -> set[str]:
    return {
        o.key
        for o in store.list(bucket)
        if o.key.endswith(".parquet") and "_delta_log" not in o.key
    }


def kill_mid_write(profile, store, task_id: str, bucket: str, tmp_path) -> set[str]:
    """Start the job; kill -9 its whole driver as soon as a new data file appears in
    `bucket`. Returns the new (orphaned) data files."""
    before = data_files(store, bucket)
    log = tmp_path / f"{task_id}-killed.log"
    proc = spark_submit(profile, task_id, "killed", log)
    deadline = time.monotonic() + 600
    try:
        while not (new := data_files(store, bucket) - before):
            assert proc.poll() is None, "the job ended before it wrote:\n" + log.read_text()[-4000:]
            assert time.monotonic() < deadline, "no data file written in 600 s"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    return new


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

    # SILVER: batch 1 committed, then batches 2 and 3 killed mid-write, then the rerun.
    run_in_process(s3_spark, profile, "bronze_to_silver", "b1")
    committed = versions(store, silver_bucket)
    assert set(committed) >= {"events", "transactions", "users", "shipment_tracking"}
    for dataset in load_registry().file_datasets:
        ingest.ingest_dataset(profile, dataset, store)
    orphans = kill_mid_write(profile, store, "bronze_to_silver", silver_bucket, tmp_path)
    assert versions(store, silver_bucket) == committed, "a killed run must not commit"
    assert orphans and all(store.exists(silver_bucket, k) for k in orphans)
    run_in_process(s3_spark, profile, "bronze_to_silver", "b2-3")
    counts = silver_counts(s3_spark, profile)
    for table, (rows, distinct) in counts.items():
        assert rows == distinct == MANIFEST["datasets"][table]["silver_rows"], (table, counts)

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


def gold_digests(s3_spark, profile, tables) -> dict[str, tuple[int, int]]:
    """(rows, order-independent content hash) per gold Delta table."""
    from pyspark.sql import functions as F

    out = {}
    for name in sorted(tables):
        df = s3_spark.read.format("delta").load(profile.spark_uri("gold", name))
        row = df.select(F.count("*"), F.sum(F.xxhash64(*df.columns))).collect()[0]
        out[name] = (row[0], row[1])
    return out

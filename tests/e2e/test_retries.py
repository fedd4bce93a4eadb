"""Retries with backoff through the real scheduler: the S3 server is down when the master run
starts, so ingestion fails; it comes back, and the retries (delays from config/pipelines.yaml,
shortened by `make test` with LAKEHOUSE_RETRY_DELAY_SECONDS=5) finish the run with nothing lost."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from lakehouse import ingest
from lakehouse.backends.storage import object_store
from lakehouse.config.pipelines import MASTER_DAG_ID, load_pipelines
from lakehouse.platform import pipeline
from lakehouse.platform.services import Stack


def _times(log: Path) -> tuple[datetime, datetime]:
    stamps = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            stamps.append(datetime.fromisoformat(json.loads(line)["timestamp"]))
        except (ValueError, KeyError, TypeError):
            continue
    return stamps[0], stamps[-1]


def test_an_outage_is_retried_with_backoff_and_nothing_is_lost(profile):
    delay = load_pipelines().defaults.retry_delay_seconds
    if delay > 30:
        pytest.fail(
            f"retry delay is {delay:g}s: start the stack with "
            f"LAKEHOUSE_RETRY_DELAY_SECONDS=5 (as make test does)"
        )
    manifest = pipeline.prepare_sample_run(profile, batches=(1,))
    pipeline.wait_for_dag(profile)
    stack = Stack(profile)
    stack.stop(["s3"])
    try:
        run_id = pipeline.trigger(profile)  # every dataset: gold needs them all
        deadline = time.monotonic() + 180

        # Any mapped instance's first failure (task_states keeps one instance per task id).
        def ingestion_failed() -> bool:
            rows = pipeline.task_instances(profile, MASTER_DAG_ID, run_id)
            return any(
                r["task_id"] == "raw_to_bronze" and r["state"] in ("up_for_retry", "failed")
                for r in rows
            )

        while not ingestion_failed():
            assert time.monotonic() < deadline, "ingestion did not fail while S3 was down"
            time.sleep(2)
    finally:
        stack.start(["s3"])
    pipeline.wait_for_run(profile, run_id, timeout=900)

    # raw_to_bronze is mapped (one instance per dataset): compare attempts of the same instance.
    by_instance: dict[Path, list[Path]] = {}
    for log in pipeline.attempt_logs(profile, MASTER_DAG_ID, run_id, "raw_to_bronze"):
        by_instance.setdefault(log.parent, []).append(log)
    retried = {folder: logs for folder, logs in by_instance.items() if len(logs) >= 2}
    assert retried, f"no raw_to_bronze instance ran twice: {by_instance}"
    for folder, logs in retried.items():
        (_, first_end), (second_start, _) = _times(logs[0]), _times(logs[1])
        gap = (second_start - first_end).total_seconds()
        assert gap >= delay * 0.9, f"{folder.name}: retry {gap:.1f}s after the failure"  # backoff

    store = object_store(profile)
    expected = {
        f"events/{Path(f['path']).name}": f["expect"]
        for f in manifest["batches"][0]["files"]
        if f["dataset"] == "events"
    }
    log = ingest.read_log(store, profile.zones.bronze, "events")
    assert {r["source_key"]: r["outcome"] for r in log} == expected

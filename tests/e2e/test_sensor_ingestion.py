"""Event-driven ingestion: a file dropped into RAW is picked up by the generated
`ingest_<dataset>` DAG — its deferrable S3KeySensor waiting on the real triggerer — and lands
in BRONZE without the master pipeline running."""

from __future__ import annotations

import time
import uuid

from lakehouse import ingest
from lakehouse.backends.storage import object_store, sha256
from lakehouse.platform import pipeline

WAIT_S = 480


def test_dropped_file_is_ingested_by_the_sensor_dag(profile):
    store = object_store(profile)
    name = f"users_sensor_{uuid.uuid4().hex[:8]}.csv"
    data = f"user_id,email,updated_at\n9{uuid.uuid4().int % 10**6},s@example.com,1793527200\n"
    pipeline.wait_for_dag(profile, "ingest_users")
    # A run may already be deferred on the triggerer; otherwise this one starts now.
    pipeline.trigger(profile, "ingest_users")
    store.put(profile.zones.raw, f"users/{name}", data.encode())
    deadline = time.monotonic() + WAIT_S
    record = None
    while time.monotonic() < deadline and record is None:
        log = ingest.read_log(store, profile.zones.bronze, "users", sha256(data.encode()))
        record = next((r for r in log if r["source_key"] == f"users/{name}"), None)
        time.sleep(5)
    assert record is not None, f"users/{name} not ingested within {WAIT_S}s by ingest_users"
    assert record["outcome"] == "bronze"
    assert not store.exists(profile.zones.raw, f"users/{name}")
    assert sha256(store.get(profile.zones.bronze, record["target_key"])) == sha256(data.encode())
    runs = pipeline.latest_runs(profile, "ingest_users", limit=20)
    assert any(r["state"] in ("success", "running") for r in runs)

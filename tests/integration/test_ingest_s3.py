"""RAW -> BRONZE against the real S3 server."""

from __future__ import annotations

import gzip

from lakehouse import ingest
from lakehouse.storage import object_store, sha256


def test_ingest_on_s3(s3_profile, run_id):
    store = object_store(s3_profile)
    dataset = f"it_{run_id}"
    zones = s3_profile.zones
    files = {
        f"{dataset}/a.csv": b"id,name\n1,x\n2,y\n",
        f"{dataset}/b.csv.gz": gzip.compress(b"id|name\n1|x\n"),
        f"{dataset}/c.json": b'{"id": 1, "name": ',
        f"{dataset}/d.ndjson": b"",
    }
    for key, data in files.items():
        store.put(zones.raw, key, data)
    summary = ingest.ingest_dataset(s3_profile, dataset, store)
    assert (summary["files_bronze"], summary["files_quarantined"]) == (2, 2)
    assert list(store.list(zones.raw, f"{dataset}/")) == []
    assert sha256(store.get(zones.bronze, f"{dataset}/csv/a.csv")) == sha256(
        files[f"{dataset}/a.csv"]
    )
    assert store.exists(zones.bronze, f"{dataset}/csv_pipe/b.csv.gz")
    reasons = {f["raw_key"]: f["reason"] for f in summary["files"] if f["target"] == "quarantine"}
    assert reasons == {f"{dataset}/c.json": "malformed_json", f"{dataset}/d.ndjson": "empty_file"}
    for zone in (zones.bronze, zones.quarantine):
        for obj in list(store.list(zone, f"{dataset}/")):
            store.delete(zone, obj.key)

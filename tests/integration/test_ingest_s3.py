"""RAW -> BRONZE against the real S3 server with the committed reference sample: every file
where the manifest says, checksums intact, RAW empty; a crash mid-run then a rerun loses and
duplicates nothing; a key that tries to climb out of its prefix is quarantined."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse import ingest
from lakehouse.backends.storage import object_store, sha256
from lakehouse.platform.pipeline import SAMPLE
from seed_data.generate import iter_raw_files

DATASETS = ("events", "transactions", "users", "shipment_tracking")


@pytest.fixture
def lake(s3_profile, run_id):
    """The local profile with its zones redirected to per-test prefixes on the real server."""
    store = object_store(s3_profile)
    zones = s3_profile.zones
    prefix = f"it{run_id}-"
    datasets = [prefix + d for d in DATASETS]
    yield s3_profile, store, prefix
    for bucket in (zones.raw, zones.bronze, zones.quarantine):
        for ds in datasets:
            for p in (f"{ds}/", f"{ingest.LOG_PREFIX}/{ds}/"):
                for obj in list(store.list(bucket, p)):
                    store.delete(bucket, obj.key)


def _drop(profile, store, prefix: str, batch: int) -> dict[str, bytes]:
    dropped = {}
    for dataset, path in iter_raw_files(SAMPLE, batch):
        key = f"{prefix}{dataset}/{path.name}"
        dropped[key] = path.read_bytes()
        store.put(profile.zones.raw, key, dropped[key])
    return dropped


def test_reference_sample_on_s3(lake):
    import json

    profile, store, prefix = lake
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    for batch in manifest["batches"]:
        dropped = _drop(profile, store, prefix, batch["batch"])
        records = {}
        for ds in DATASETS:
            summary = ingest.ingest_dataset(profile, prefix + ds, store)
            records.update({f["source_key"]: f for f in summary["files"]})
        for f in batch["files"]:
            key = f"{prefix}{f['dataset']}/{Path(f['path']).name}"
            got = records[key]
            assert (got["outcome"], got["reason"]) == (f["expect"], f.get("reason")), key
            bucket = getattr(profile.zones, f["expect"])
            assert sha256(store.get(bucket, got["target_key"])) == sha256(dropped[key])
    for ds in DATASETS:
        assert list(store.list(profile.zones.raw, f"{prefix}{ds}/")) == []


def test_crash_after_copy_then_rerun_on_s3(lake, monkeypatch):
    profile, store, prefix = lake
    dropped = _drop(profile, store, prefix, 1)
    ds = prefix + "transactions"
    real_put = store.put
    calls = {"n": 0}

    def put(bucket, key, data):
        if key.startswith(ingest.LOG_PREFIX):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("simulated crash between copy and record")
        real_put(bucket, key, data)

    monkeypatch.setattr(store, "put", put)
    with pytest.raises(OSError, match="simulated crash"):
        ingest.ingest_dataset(profile, ds, store)
    monkeypatch.setattr(store, "put", real_put)
    rerun = ingest.ingest_dataset(profile, ds, store)
    assert rerun["files_duplicate"] == 0
    bronze = [o.key for o in store.list(profile.zones.bronze, f"{ds}/")]
    sent = {k: v for k, v in dropped.items() if k.startswith(f"{ds}/")}
    good = [k for k in sent if not k.endswith(("fake.parquet", "truncated.csv.gz"))]
    assert len(bronze) == len(set(bronze)) == len(good)
    assert {sha256(store.get(profile.zones.bronze, k)) for k in bronze} == {
        sha256(sent[k]) for k in good
    }
    assert list(store.list(profile.zones.raw, f"{ds}/")) == []


def test_key_climbing_out_of_its_prefix_is_quarantined(lake):
    profile, store, prefix = lake
    ds = prefix + "events"
    store.put(profile.zones.raw, f"{ds}/..\\..\\etc\\passwd.csv", b"a,b\n1,2\n")
    (record,) = ingest.ingest_dataset(profile, ds, store)["files"]
    assert (record["outcome"], record["reason"]) == ("quarantine", "unsafe_key")
    assert record["target_key"].startswith(f"{ds}/ingest_date=")
    assert "\\" not in record["target_key"] and ".." not in record["target_key"]
    assert list(store.list(profile.zones.bronze, f"{ds}/")) == []

"""RAW -> BRONZE on the filesystem store (the embedded profile's object store): nothing lost,
RAW deleted only after the copy is verified, reruns duplicate nothing."""

import json
from pathlib import Path

import pytest

from lakehouse import ingest
from lakehouse.config import load_profile
from lakehouse.storage import FilesystemObjectStore, sha256
from seed_data import thin


@pytest.fixture
def lake(tmp_path: Path, monkeypatch):
    profile = load_profile("embedded")
    store_cfg = profile.object_store.model_copy(update={"root": tmp_path / "lake"})
    profile = profile.model_copy(update={"object_store": store_cfg})
    store = FilesystemObjectStore(store_cfg)
    manifest = thin.generate(tmp_path / "seed")
    for path in sorted((tmp_path / "seed" / "events").iterdir()):
        store.put(profile.zones.raw, f"events/{path.name}", path.read_bytes())
    return profile, store, manifest, tmp_path / "seed" / "events"


def test_valid_files_copied_one_to_one_and_corrupt_one_quarantined(lake):
    profile, store, manifest, seed = lake
    summary = ingest.ingest_dataset(profile, "events", store)
    assert summary["files_in"] == len(manifest["files"])
    assert list(store.list(profile.zones.raw, "events/")) == []
    for name, expect in manifest["files"].items():
        original = (seed / name).read_bytes()
        outcome = next(f for f in summary["files"] if f["raw_key"] == f"events/{name}")
        assert outcome["target"] == expect["expect"], outcome
        bucket = getattr(profile.zones, expect["expect"])
        assert sha256(store.get(bucket, outcome["target_key"])) == sha256(original)
        if expect["expect"] == "quarantine":
            reason = json.loads(store.get(bucket, outcome["target_key"] + ".reason.json"))
            assert reason["reason"] == expect["reason"]


def test_rerun_after_crash_between_copy_and_delete_duplicates_nothing(lake, monkeypatch):
    profile, store, manifest, _ = lake
    real_delete = store.delete
    calls = {"n": 0}

    def crash_on_second_delete(bucket, key):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("simulated crash before RAW delete")
        real_delete(bucket, key)

    monkeypatch.setattr(store, "delete", crash_on_second_delete)
    with pytest.raises(OSError, match="simulated crash"):
        ingest.ingest_dataset(profile, "events", store)
    monkeypatch.setattr(store, "delete", real_delete)
    assert len(list(store.list(profile.zones.raw, "events/"))) == 2  # nothing lost
    ingest.ingest_dataset(profile, "events", store)
    bronze = [o.key for o in store.list(profile.zones.bronze, "events/")]
    quarantine = [o.key for o in store.list(profile.zones.quarantine, "events/")]
    assert len(bronze) == 2 and len(set(bronze)) == 2
    assert len(quarantine) == 2  # the file and its reason
    assert list(store.list(profile.zones.raw, "events/")) == []


def test_failed_verification_keeps_raw(lake, monkeypatch):
    profile, store, _, _ = lake
    real_get = store.get

    def corrupting_get(bucket, key):
        data = real_get(bucket, key)
        return data + b"x" if bucket == profile.zones.bronze else data

    monkeypatch.setattr(store, "get", corrupting_get)
    with pytest.raises(OSError, match="verification failed"):
        ingest.ingest_dataset(profile, "events", store)
    assert len(list(store.list(profile.zones.raw, "events/"))) == 3

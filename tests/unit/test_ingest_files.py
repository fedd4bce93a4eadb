"""RAW -> BRONZE on the filesystem store (the embedded profile's object store) with the
reference dataset: every file where the manifest says, checksums intact, RAW empty; crashes
between any two steps lose nothing and duplicate nothing; re-sent content is not ingested twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse import ingest
from lakehouse.backends.storage import FilesystemObjectStore, sha256
from lakehouse.config import load_profile
from lakehouse.platform.pipeline import drop_reference_batch
from seed_data.generate import generate

DATASETS = ("events", "transactions", "users", "shipment_tracking")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return out, generate(out, scale=0.01, seed=42)


@pytest.fixture
def lake(tmp_path: Path, reference):
    profile = load_profile("embedded")
    cfg = profile.object_store.model_copy(update={"root": tmp_path / "lake"})
    profile = profile.model_copy(update={"object_store": cfg})
    store = FilesystemObjectStore(cfg)
    for bucket in profile.bucket_names:
        store.ensure_bucket(bucket)
    return profile, store


def _ingest_all(profile, store) -> list[dict]:
    return [f for ds in DATASETS for f in ingest.ingest_dataset(profile, ds, store)["files"]]


def _bronze_data_keys(profile, store) -> list[str]:
    return [o.key for ds in DATASETS for o in store.list(profile.zones.bronze, f"{ds}/")]


def test_every_file_lands_where_the_manifest_says(lake, reference):
    profile, store = lake
    out, manifest = reference
    for batch in manifest["batches"]:
        drop_reference_batch(profile, out, batch["batch"], store)
        outcomes = {f["source_key"]: f for f in _ingest_all(profile, store)}
        for expected in batch["files"]:
            key = f"{expected['dataset']}/{Path(expected['path']).name}"
            got = outcomes[key]
            assert got["outcome"] == expected["expect"], (key, got)
            assert got["reason"] == expected.get("reason"), (key, got)
            bucket = getattr(profile.zones, expected["expect"])
            original = (out / expected["path"]).read_bytes()
            assert sha256(store.get(bucket, got["target_key"])) == sha256(original)
            assert got["target_key"].startswith(f"{expected['dataset']}/ingest_date=")
            if expected["expect"] == "quarantine":
                sidecar = json.loads(store.get(bucket, got["target_key"] + ".reason.json"))
                assert sidecar["reason"] == expected["reason"]
    assert list(store.list(profile.zones.raw)) == []
    log = [r for ds in DATASETS for r in ingest.read_log(store, profile.zones.bronze, ds)]
    n_files = sum(len(b["files"]) for b in manifest["batches"])
    assert len(log) == n_files
    assert {r["outcome"] for r in log} == {"bronze", "quarantine"}


@pytest.mark.parametrize("crash_at", ["after_copy", "after_record"])
def test_crash_then_rerun_loses_and_duplicates_nothing(lake, reference, monkeypatch, crash_at):
    profile, store = lake
    out, manifest = reference
    drop_reference_batch(profile, out, 1, store)
    raw_before = {
        o.key: sha256(store.get(profile.zones.raw, o.key)) for o in store.list(profile.zones.raw)
    }
    real_put, real_delete = store.put, store.delete
    seen = {"n": 0}

    def crash(*_args):
        raise OSError(f"simulated crash {crash_at}")

    def put(bucket, key, data):
        # the 3rd file: its copy is written and verified, then the process dies
        if crash_at == "after_copy" and key.startswith(ingest.LOG_PREFIX):
            seen["n"] += 1
            if seen["n"] == 3:
                crash()
        real_put(bucket, key, data)

    def delete(bucket, key):
        if crash_at == "after_record" and bucket == profile.zones.raw:
            seen["n"] += 1
            if seen["n"] == 3:
                crash()
        real_delete(bucket, key)

    monkeypatch.setattr(store, "put", put)
    monkeypatch.setattr(store, "delete", delete)
    with pytest.raises(OSError, match="simulated crash"):
        _ingest_all(profile, store)
    monkeypatch.setattr(store, "put", real_put)
    monkeypatch.setattr(store, "delete", real_delete)
    left = {o.key for o in store.list(profile.zones.raw)}
    assert left and left < set(raw_before)  # stopped half-way, nothing deleted unrecorded

    _ingest_all(profile, store)  # the rerun
    assert list(store.list(profile.zones.raw)) == []
    bronze = _bronze_data_keys(profile, store)
    assert len(bronze) == len(set(bronze))
    expected_bronze = [f for f in manifest["batches"][0]["files"] if f["expect"] == "bronze"]
    assert len(bronze) == len(expected_bronze)
    stored = {sha256(store.get(profile.zones.bronze, k)) for k in bronze}
    assert stored == {raw_before[f"{f['dataset']}/{Path(f['path']).name}"] for f in expected_bronze}
    log = [r for ds in DATASETS for r in ingest.read_log(store, profile.zones.bronze, ds)]
    assert sorted(r["source_key"] for r in log) == sorted(raw_before)  # one record per file


def test_resent_content_is_a_counted_duplicate(lake):
    profile, store = lake
    data = b"event_id,user_id\ne1,1\ne2,2\n"
    store.put(profile.zones.raw, "events/first.csv", data)
    ingest.ingest_dataset(profile, "events", store)
    store.put(profile.zones.raw, "events/again_later.csv", data)
    store.put(profile.zones.raw, "events/first.csv", data)
    summary = ingest.ingest_dataset(profile, "events", store)
    assert (summary["files_duplicate"], summary["files_already_ingested"]) == (1, 1)
    assert summary["files_bronze"] == 0
    assert len(list(store.list(profile.zones.bronze, "events/"))) == 1
    assert list(store.list(profile.zones.raw)) == []


def test_a_reused_name_gets_a_key_per_content_and_a_rerun_the_same_key(lake):
    """`hourly.csv` sent twice the same day with different content: two BRONZE objects (the
    second never overwrites the first); the same content again is already ingested."""
    profile, store = lake
    first, second = b"event_id,user_id\ne1,1\n", b"event_id,user_id\ne2,2\n"
    keys = []
    for data in (first, second, first):
        store.put(profile.zones.raw, "events/hourly.csv", data)
        (outcome,) = ingest.ingest_dataset(profile, "events", store)["files"]
        keys.append((outcome["outcome"], outcome["target_key"]))
    assert [o for o, _ in keys] == ["bronze", "bronze", "already_ingested"]
    assert keys[0][1] != keys[1][1] and keys[2][1] == keys[0][1]
    assert keys[0][1].endswith(f"/hourly.{sha256(first)[:16]}.csv")
    assert [store.get(profile.zones.bronze, k) for _, k in keys[:2]] == [first, second]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("orders.csv", "orders.D.csv"),
        ("Orders.CSV.GZ", "Orders.D.CSV.GZ"),
        ("a.b.parquet", "a.b.D.parquet"),
        ("notes.zip", "notes.zip.D"),
        ("noext", "noext.D"),
    ],
)
def test_content_names_keep_the_extension_last(name, expected):
    digest = "0123456789abcdef" + "0" * 48
    assert ingest.content_name(name, digest) == expected.replace("D", digest[:16])


def test_control_characters_in_a_key_are_quarantined_not_followed(lake):
    profile, store = lake
    store.put(profile.zones.raw, "events/evil\x01name.csv", b"a,b\n1,2\n")
    (outcome,) = ingest.ingest_dataset(profile, "events", store)["files"]
    assert (outcome["outcome"], outcome["reason"]) == ("quarantine", "unsafe_key")
    assert "\x01" not in outcome["target_key"]
    assert list(store.list(profile.zones.bronze, "events/")) == []

"""Disk full under the object store: a throwaway S3 server (the stack's versitygw, its own port)
whose BRONZE bucket directory is a small tmpfs, while RAW and QUARANTINE stay on the larger
disk. Ingestion of more than fits fails with the server's "no space" error; every file is then
either complete in BRONZE (verified and logged) or still untouched in RAW, never a partial
object. Once space is freed the rerun ingests the rest, each file exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from faults import ThrowawayS3

from lakehouse import ingest
from lakehouse.backends.storage import object_store, sha256
from lakehouse.platform.pipeline import SAMPLE

DATASET = "events"
GOOD = SAMPLE / "batch-01" / "raw" / "events" / "events_2026-10-31_c.csv"
BRONZE_MIB, FREED_MIB = 16, 96
FILES = 8  # of about 3 MiB each: about five fit in BRONZE_MIB


def landed_files() -> dict[str, bytes]:
    """RAW key -> content: valid CSV files of about 3 MiB, each with its own content."""
    header, _, body = GOOD.read_bytes().partition(b"\n")
    return {f"{DATASET}/full-{i:02d}.csv": header + b"\n" + body * (46 + i) for i in range(FILES)}


def mount_tmpfs(path, mib: int) -> None:
    """A tmpfs over an existing bucket directory, keeping the directory's extended attributes
    (versitygw keeps a bucket's owner and ACL there)."""
    attrs = {name: os.getxattr(path, name) for name in os.listxattr(path)}
    done = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={mib}m,mode=0755",
            f"rel-full-{uuid.uuid4().hex[:6]}",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(
            f"cannot mount a tmpfs on {path} ({done.stderr.strip()}): this test needs "
            "root (CAP_SYS_ADMIN) to simulate a full disk"
        )
    for name, value in attrs.items():
        os.setxattr(path, name, value)


@pytest.fixture
def full_store(local_profile, tmp_path):
    """A throwaway S3 server with the lake's buckets; BRONZE on a BRONZE_MIB tmpfs."""
    server = ThrowawayS3(local_profile, tmp_path / "s3")
    tag = uuid.uuid4().hex[:8]
    zones = {z: f"rel-{tag}-{z}" for z in local_profile.zones.model_dump()}
    profile = server.profile.model_copy(update={"zones": local_profile.zones.model_validate(zones)})
    bronze_dir = server.root / profile.zones.bronze
    try:
        server.start()
        store = object_store(profile)
        for bucket in profile.bucket_names:
            store.ensure_bucket(bucket)
        mount_tmpfs(bronze_dir, BRONZE_MIB)
        yield profile, store, bronze_dir
    finally:
        server.stop()
        if os.path.ismount(bronze_dir):
            subprocess.run(["umount", str(bronze_dir)], check=True)


def bronze_objects(profile, store) -> dict[str, bytes]:
    return {
        o.key: store.get(profile.zones.bronze, o.key)
        for o in store.list(profile.zones.bronze, f"{DATASET}/")
    }


def test_bronze_disk_full_leaves_no_partial_object_and_the_rerun_ingests_the_rest(full_store):
    profile, store, bronze_dir = full_store
    files = landed_files()
    by_digest = {sha256(data): key for key, data in files.items()}
    for key, data in files.items():
        store.put(profile.zones.raw, key, data)
    landed_mib = sum(map(len, files.values())) / 2**20

    started = time.monotonic()
    with pytest.raises(ClientError, match="InsufficientStorage|No space left"):
        ingest.ingest_dataset(profile, DATASET, store)
    failed_s = time.monotonic() - started

    # Every BRONZE object is a whole landed file; every log record names one of them.
    bronze = bronze_objects(profile, store)
    assert bronze, "nothing fit in BRONZE: the tmpfs is too small for the test to mean much"
    for key, data in bronze.items():
        assert sha256(data) in by_digest, f"{key}: {len(data)} bytes, not a whole landed file"
    log = {r["source_key"]: r for r in ingest.read_log(store, profile.zones.bronze, DATASET)}
    for source, record in log.items():
        assert record["outcome"] == "bronze"
        assert sha256(bronze[record["target_key"]]) == record["sha256"] == sha256(files[source])
    # Nothing left RAW without its verified, logged copy; what stayed is untouched.
    raw = {o.key: store.get(profile.zones.raw, o.key) for o in store.list(profile.zones.raw)}
    assert set(files) - set(raw) <= set(log)
    assert all(files[key] == data for key, data in raw.items())
    assert raw, "every file fit: the disk never filled up"
    assert list(store.list(profile.zones.quarantine)) == []
    stranded = list((bronze_dir / ".sgwtmp").glob("*"))
    assert stranded == [], f"temporary upload files left on the full disk: {stranded}"
    fitted = len(bronze)

    subprocess.run(["mount", "-o", f"remount,size={FREED_MIB}m", str(bronze_dir)], check=True)
    started = time.monotonic()
    summary = ingest.ingest_dataset(profile, DATASET, store)
    rerun_s = time.monotonic() - started

    assert list(store.list(profile.zones.raw)) == []
    bronze = bronze_objects(profile, store)
    assert sorted(sha256(d) for d in bronze.values()) == sorted(by_digest)  # each once
    log = ingest.read_log(store, profile.zones.bronze, DATASET)
    assert sorted(r["source_key"] for r in log) == sorted(files)
    assert {r["outcome"] for r in log} == {"bronze"}
    assert summary["files_bronze"] + summary["files_already_ingested"] == len(raw)
    print(
        json.dumps(
            {
                "landed_files": len(files),
                "landed_mib": round(landed_mib, 1),
                "bronze_mib": BRONZE_MIB,
                "in_bronze_after_failure": fitted,
                "left_in_raw": len(raw),
                "failed_run_s": round(failed_s, 2),
                "rerun_bronze": summary["files_bronze"],
                "rerun_already_ingested": summary["files_already_ingested"],
                "rerun_s": round(rerun_s, 2),
            }
        )
    )

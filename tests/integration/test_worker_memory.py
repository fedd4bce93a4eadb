"""An Airflow worker's memory does not bound the size of what it ingests: a RAW object larger
than the worker process's whole memory limit is validated, hashed, copied to BRONZE (S3's
managed, multipart copy) and verified by a process held to that limit, on the real S3 server.

The limit is an address-space cap (`ulimit -v`, RLIMIT_AS) set on a child process before it
starts; the same child holding the object whole (what the ingestion did before it streamed)
dies of MemoryError under it, which shows that the limit binds."""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import textwrap

import pytest

from lakehouse import ingest
from lakehouse.backends.storage import digest, object_store

WORKER_MEMORY_LIMIT = 768 << 20  # bytes of address space for the whole worker process
OBJECT_BYTES = 1 << 30  # larger than that limit
ROW = b"%012d,2026-12-01T10:00:00Z," + b"x" * 150 + b",42.50\n"


@pytest.fixture
def big_object(s3_profile, run_id, tmp_path):
    """A valid CSV of OBJECT_BYTES in RAW (uploaded part by part from disk); its sha256."""
    store = object_store(s3_profile)
    dataset = f"mem{run_id}-events"
    path = tmp_path / "big.csv"
    h, size = hashlib.sha256(), 0
    with path.open("wb") as f:
        header = b"event_id,event_ts,payload,amount\n"
        f.write(header)
        h.update(header)
        size = len(header)
        row_id = 0
        while size < OBJECT_BYTES:
            block = b"".join(ROW % (row_id + i) for i in range(4096))
            row_id += 4096
            f.write(block)
            h.update(block)
            size += len(block)
    key = f"{dataset}/big.csv"
    store.client.upload_file(str(path), s3_profile.zones.raw, key)
    path.unlink()
    yield dataset, key, size, h.hexdigest(), row_id
    zones = s3_profile.zones
    for bucket in (zones.raw, zones.bronze, zones.quarantine):
        for prefix in (f"{dataset}/", f"{ingest.LOG_PREFIX}/{dataset}/"):
            for obj in list(store.list(bucket, prefix)):
                store.delete(bucket, obj.key)


def _as_worker(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a Python process whose address space is capped at WORKER_MEMORY_LIMIT."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_LIMIT, WORKER_MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=600,
    )


PRELUDE = textwrap.dedent(
    """
    import json, resource
    from lakehouse.config import load_profile
    from lakehouse.backends.storage import object_store
    profile = load_profile("local")
    store = object_store(profile)
    """
)


def test_an_object_larger_than_the_workers_memory_is_ingested_whole(s3_profile, big_object):
    dataset, key, size, sha, rows = big_object
    assert size > WORKER_MEMORY_LIMIT

    held = _as_worker(PRELUDE + f"store.get(profile.zones.raw, {key!r})\n")
    assert held.returncode != 0 and "MemoryError" in held.stderr, held.stderr[-2000:]

    streamed = _as_worker(
        PRELUDE
        + textwrap.dedent(
            f"""
            from lakehouse.ingest import ingest_dataset
            summary = ingest_dataset(profile, {dataset!r}, store)
            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(json.dumps({{"summary": summary, "peak_kib": peak_kib}}))
            """
        )
    )
    assert streamed.returncode == 0, streamed.stderr[-4000:]
    out = json.loads(streamed.stdout.strip().splitlines()[-1])
    (record,) = out["summary"]["files"]
    assert (record["outcome"], record["reason"]) == ("bronze", None), record
    assert (record["size"], record["sha256"], record["detail"]) == (size, sha, f"{rows} rows")
    store = object_store(s3_profile)
    assert digest(store, s3_profile.zones.bronze, record["target_key"]) == (size, sha)
    assert not store.exists(s3_profile.zones.raw, key)
    print(f"ingested {size} bytes with a peak RSS of {out['peak_kib'] // 1024} MiB")

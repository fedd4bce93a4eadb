"""Files landing while an ingestion run is in progress: uploads (multipart, part by part, as
large files arrive) run alongside the run. Each file is either taken whole by that run or left
in RAW and taken whole by the next one; none is lost, half-read or taken twice."""

from __future__ import annotations

import threading
import time

from lakehouse import ingest
from lakehouse.backends.storage import object_store, sha256
from lakehouse.platform.pipeline import SAMPLE

DATASET = "events"
GOOD = SAMPLE / "batch-01" / "raw" / "events" / "events_2026-10-31_c.csv"
PART = 5 * 1024 * 1024  # S3's smallest part but the last


def csv_file(copies: int) -> bytes:
    header, _, body = GOOD.read_bytes().partition(b"\n")
    return header + b"\n" + body * copies


def land_slowly(profile, files: dict[str, bytes], started: threading.Event, log: list) -> None:
    """Multipart uploads, one part at a time with pauses: a file is visible only once whole."""
    s3 = object_store(profile).client  # a client of its own: this runs in another thread
    for key, body in files.items():
        upload = s3.create_multipart_upload(Bucket=profile.zones.raw, Key=key)["UploadId"]
        started.set()
        parts = []
        for number, at in enumerate(range(0, len(body), PART), start=1):
            time.sleep(0.4)
            etag = s3.upload_part(
                Bucket=profile.zones.raw,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                Body=body[at : at + PART],
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        s3.complete_multipart_upload(
            Bucket=profile.zones.raw, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
        )
        log.append((key, time.monotonic()))


def test_files_landing_mid_run_are_taken_whole_by_this_run_or_the_next(lake):
    profile, store = lake
    early = {f"{DATASET}/early-{i:02d}.csv": csv_file(20 + i) for i in range(24)}
    late = {f"{DATASET}/late-{i:02d}.csv": csv_file(160 + i) for i in range(4)}  # 2 parts each
    for key, body in early.items():
        store.put(profile.zones.raw, key, body)

    started, landed = threading.Event(), []
    uploader = threading.Thread(target=land_slowly, args=(profile, late, started, landed))
    uploader.start()
    assert started.wait(30), "the first upload never started"
    run_started = time.monotonic()
    first = ingest.ingest_dataset(profile, DATASET, store)
    run_ended = time.monotonic()
    uploader.join(120)
    assert not uploader.is_alive()
    # The run really overlapped the landing: a file became whole while it ran, or after it.
    assert landed and landed[-1][1] > run_started, (landed, run_started, run_ended)

    second = ingest.ingest_dataset(profile, DATASET, store)
    records = first["files"] + second["files"]
    sources = {**early, **late}
    taken = [r["source_key"] for r in records]
    assert sorted(taken) == sorted(sources), "a file was lost or taken twice"
    for record in records:
        assert record["outcome"] == "bronze", record
        assert record["sha256"] == sha256(sources[record["source_key"]]), record
        whole = store.get(profile.zones.bronze, record["target_key"])
        assert whole == sources[record["source_key"]], record["target_key"]
    assert not list(store.list(profile.zones.raw, f"{DATASET}/"))
    late_in_first = [r["source_key"] for r in first["files"] if r["source_key"] in late]
    print(
        {
            "run_s": round(run_ended - run_started, 2),
            "first_run_files": len(first["files"]),
            "late_files_in_first_run": len(late_in_first),
            "second_run_files": len(second["files"]),
        }
    )

"""Hostile input on the real S3 server: a corpus of bad files (generated on the fly) lands in
RAW next to good ones, and one ingestion run (in its own process, as an Airflow worker runs it)
quarantines every bad file with its reason, copies the good ones to BRONZE, empties RAW and
exits normally. Its wall time and peak memory are printed for docs/reliability.md."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from lakehouse.platform.pipeline import SAMPLE

GOOD = SAMPLE / "batch-01" / "raw" / "events" / "events_2026-10-31_c.csv"
CHILD = """
import json, resource, sys, time
from lakehouse.config import Profile
from lakehouse.ingest import ingest_dataset
profile = Profile.model_validate_json(sys.stdin.read())
started = time.monotonic()
summary = ingest_dataset(profile, "events")
summary["wall_s"] = round(time.monotonic() - started, 2)
summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps(summary, default=str))
"""


def _gzip_bomb() -> bytes:
    """1 GiB of spaces inside a JSON array, gzipped to about 1 MB (streamed: no 1 GiB here)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        gz.write(b"[")
        block = b" " * 2**20
        for _ in range(1024):
            gz.write(block)
        gz.write(b"]")
    return buf.getvalue()


def _corrupt_footer_parquet() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"event_id": ["e1", "e2"], "n": [1, 2]}), buf)
    data = bytearray(buf.getvalue())
    footer_len = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_len
    data[start : start + footer_len] = b"\xff" * footer_len  # footer garbage, magic bytes kept
    return bytes(data)


def corpus() -> dict[str, tuple[bytes, str | None]]:
    """RAW key under events/ -> (content, expected quarantine reason or None for BRONZE)."""
    good = GOOD.read_bytes()
    return {
        "bomb.json.gz": (_gzip_bomb(), "too_large"),
        "one-line.json": (b'{"event_id": "' + b"x" * (200 * 2**20) + b'"}', "too_large"),
        "deep.json": (b"[" * 200_000 + b"]" * 200_000, "malformed_json"),
        "wide.csv": (
            (
                ",".join(f"c{i}" for i in range(10_000))
                + "\n"
                + ",".join("1" for _ in range(10_000))
                + "\n"
            ).encode(),
            "too_large",
        ),
        "latin1.csv": ("event_id,country\ne1,España\n".encode("latin-1"), "unreadable_encoding"),
        "nul.csv": (b"event_id,country\ne1,\x00\x00\n", "unreadable_encoding"),
        "footer.parquet": (_corrupt_footer_parquet(), "corrupt_parquet"),
        "../../escape.csv": (good, "unsafe_key"),
        "ünïcødé 数据.csv": (good.replace(b"\n", b"\r\n"), None),
        "$(touch pwned);`touch pwned2`|x&.csv": (good.replace(b",", b"|"), None),
        "good.csv": (good, None),
    }


def test_every_hostile_file_is_quarantined_with_its_reason_and_good_files_pass(lake, tmp_path):
    profile, store = lake
    files = corpus()
    raw = profile.zones.raw
    refused = set()
    for name, (data, _) in files.items():
        # put_object straight to the client: keys like "events/../../x" reach the server
        # unnormalised, as a hostile uploader would send them. Amazon S3 stores such a key;
        # versitygw refuses it (400), and then it never reaches RAW at all.
        try:
            store.client.put_object(Bucket=raw, Key=f"events/{name}", Body=data)
        except ClientError as exc:
            assert ".." in name and exc.response["Error"]["Code"] == "400", (name, exc)
            refused.add(name)
    files = {n: f for n, f in files.items() if n not in refused}
    landed = {o.key.removeprefix("events/") for o in store.list(raw, "events/")}
    assert landed == set(files), landed ^ set(files)

    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=profile.model_dump_json(by_alias=True),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"\nhostile corpus: {len(files)} files, {summary['bytes'] / 2**20:.0f} MiB, "
        f"wall {summary['wall_s']} s, peak RSS {summary['peak_rss_mib']} MiB"
    )

    outcomes = {f["source_key"].removeprefix("events/"): f for f in summary["files"]}
    assert set(outcomes) == set(files)
    for name, (_, reason) in files.items():
        got = outcomes[name]
        if reason is None:
            assert (got["outcome"], got["reason"]) == ("bronze", None), (name, got)
            assert store.exists(profile.zones.bronze, got["target_key"])
        else:
            assert (got["outcome"], got["reason"]) == ("quarantine", reason), (name, got)
            assert store.exists(profile.zones.quarantine, f"{got['target_key']}.reason.json")
            assert ".." not in got["target_key"]
    assert list(store.list(raw)) == []  # nothing left behind, nothing lost
    assert not list(tmp_path.glob("pwned*")) and not Path("pwned").exists()

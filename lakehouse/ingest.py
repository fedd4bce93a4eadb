"""RAW -> BRONZE: validate each landed file by its content, copy it 1:1 to BRONZE or move it
to QUARANTINE with a reason, and delete the RAW copy only once the target copy is verified.

Crash safety: the target is written and read back (sha256) before RAW is deleted, so a crash
leaves the file in RAW and a rerun rewrites the same target key (no duplicates: the bronze key
is a function of the RAW key and the detected format).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pyarrow.parquet as pq

from lakehouse.config import Profile
from lakehouse.storage import ObjectStore, object_store, sha256

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
CSV_FOLDERS = {",": "csv", "|": "csv_pipe", "\t": "csv_tab", ";": "csv_semicolon"}
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Verdict:
    """What a file is: `folder` is its bronze sub-folder, or `reason` says why it is rejected."""

    folder: str | None = None
    reason: str | None = None
    compressed: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def _reject(reason: str, detail: str = "") -> Verdict:
    return Verdict(reason=reason, detail=detail)


def detect(data: bytes) -> Verdict:
    """Classify a file by content: CSV/TXT (delimiter sniffed), JSON, NDJSON, Parquet, gzip."""
    if not data.strip():
        return _reject("empty_file")
    if data[:2] == GZIP_MAGIC:
        try:
            inner = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            return _reject("corrupt_gzip", str(exc))
        verdict = detect(inner)
        if verdict.ok and verdict.folder == "parquet":
            return _reject("unsupported_format", "gzip of parquet")
        return Verdict(verdict.folder, verdict.reason, compressed=True, detail=verdict.detail)
    if data[:4] == PARQUET_MAGIC:
        return _detect_parquet(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _reject("unreadable_encoding", f"not UTF-8 at byte {exc.start}")
    if "\x00" in text:
        return _reject("unreadable_encoding", "NUL bytes in text")
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        return _detect_json(stripped)
    return _detect_delimited(text)


def _detect_parquet(data: bytes) -> Verdict:
    if len(data) < 12 or data[-4:] != PARQUET_MAGIC:
        return _reject("corrupt_parquet", "missing trailing PAR1 magic (truncated file)")
    try:
        meta = pq.read_metadata(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a bad footer
        return _reject("corrupt_parquet", f"unreadable footer: {exc}")
    return Verdict("parquet", detail=f"{meta.num_rows} rows")


def _detect_json(text: str) -> Verdict:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if text.startswith("{") and len(lines) > 1:
        try:
            records = [json.loads(ln) for ln in lines]
        except json.JSONDecodeError as exc:
            return _reject("malformed_json", f"NDJSON line fails to parse: {exc}")
        if all(isinstance(r, dict) for r in records):
            return Verdict("ndjson", detail=f"{len(records)} records")
        return _reject("malformed_json", "NDJSON lines must be objects")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return _reject("malformed_json", str(exc))
    if isinstance(doc, dict):
        return Verdict("ndjson", detail="1 record")
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return Verdict("json", detail=f"{len(doc)} records")
    return _reject("malformed_json", "expected an object or a non-empty array of objects")


def _detect_delimited(text: str) -> Verdict:
    sample = text[:SNIFF_BYTES]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",|\t;").delimiter
    except csv.Error:
        # The sniffer wants consistent rows; fall back to the header's most frequent
        # delimiter so a ragged file is reported as such rather than as unknown.
        header_line = next((ln for ln in sample.splitlines() if ln.strip()), "")
        counts = {d: header_line.count(d) for d in CSV_FOLDERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            return _reject("unrecognised_format", "no delimiter found in the header line")
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    header = rows[0]
    if len(header) < 2:
        return _reject("unrecognised_format", "fewer than two columns")
    if not all(cell.strip() for cell in header):
        return _reject("malformed_csv", "header has empty column names")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            return _reject(
                "malformed_csv", f"row {number} has {len(row)} fields, header has {len(header)}"
            )
    if len(rows) < 2:
        return _reject("empty_file", "header only")
    return Verdict(CSV_FOLDERS[delimiter], detail=f"{len(rows) - 1} rows")


@dataclass
class FileOutcome:
    raw_key: str
    target: str  # "bronze" or "quarantine"
    target_key: str
    size: int
    sha256: str
    reason: str | None = None
    detail: str = ""


def bronze_key(dataset: str, raw_key: str, verdict: Verdict) -> str:
    name = PurePosixPath(raw_key).name
    if verdict.compressed and not name.endswith(".gz"):
        name += ".gz"  # Spark picks its codec from the extension
    return f"{dataset}/{verdict.folder}/{name}"


def _write_verified(store: ObjectStore, bucket: str, key: str, data: bytes) -> str:
    digest = sha256(data)
    store.put(bucket, key, data)
    if sha256(store.get(bucket, key)) != digest:
        raise OSError(f"verification failed for {bucket}/{key}: checksum differs after write")
    return digest


def ingest_file(profile: Profile, store: ObjectStore, dataset: str, raw_key: str) -> FileOutcome:
    zones = profile.zones
    data = store.get(zones.raw, raw_key)
    verdict = detect(data)
    if verdict.ok:
        key = bronze_key(dataset, raw_key, verdict)
        digest = _write_verified(store, zones.bronze, key, data)
        outcome = FileOutcome(raw_key, "bronze", key, len(data), digest, detail=verdict.detail)
    else:
        key = f"{dataset}/{PurePosixPath(raw_key).name}"
        digest = _write_verified(store, zones.quarantine, key, data)
        outcome = FileOutcome(
            raw_key, "quarantine", key, len(data), digest, verdict.reason, verdict.detail
        )
        reason = {
            **asdict(outcome),
            "raw_bucket": zones.raw,
            "quarantined_at": datetime.now(UTC).isoformat(),
        }
        store.put(zones.quarantine, f"{key}.reason.json", json.dumps(reason, indent=2).encode())
    store.delete(zones.raw, raw_key)
    return outcome


def ingest_dataset(profile: Profile, dataset: str, store: ObjectStore | None = None) -> dict:
    """Ingest every file under raw/<dataset>/; returns a summary for metrics and XCom."""
    store = store or object_store(profile)
    outcomes = [
        ingest_file(profile, store, dataset, obj.key)
        for obj in store.list(profile.zones.raw, f"{dataset}/")
    ]
    summary = {
        "stage": "raw_to_bronze",
        "dataset": dataset,
        "files_in": len(outcomes),
        "files_bronze": sum(o.target == "bronze" for o in outcomes),
        "files_quarantined": sum(o.target == "quarantine" for o in outcomes),
        "bytes": sum(o.size for o in outcomes),
        "files": [asdict(o) for o in outcomes],
    }
    return summary

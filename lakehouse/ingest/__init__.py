"""RAW -> BRONZE: validate each landed file by its content, copy it 1:1 to
`bronze/<dataset>/ingest_date=YYYY-MM-DD/<stem>.<sha256[:16]><extension>` or move it to
QUARANTINE with a reason, record it in the ingestion log, and delete the RAW copy only after the
copy is verified and recorded.

Crash safety and idempotency: the steps are copy -> verify (size + sha256) -> record -> delete.
The bronze key depends only on the file's name, its content and its landing date (the object's
LastModified), so a rerun after a crash rewrites the same key, while a different file under a
name already used that day (`orders.csv` every hour) gets a key of its own; the ingestion log
(one JSON object per file under `bronze/_ingestion_log/<dataset>/<sha256>/`) makes a file whose
content was already ingested a no-op (a crash after the record) or a counted duplicate (the same
content re-sent).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pyarrow.parquet as pq

from lakehouse.backends.storage import MissingObject, ObjectInfo, ObjectStore, object_store, sha256
from lakehouse.config import Profile
from spark_jobs import contract as C

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024
LOG_PREFIX = "_ingestion_log"
# The input contract's limits (spark_jobs/contract.py), read once at import.
MAX_DECOMPRESSED_BYTES, MAX_LINE_BYTES, MAX_COLUMNS = (limit.value for limit in C.LIMITS)
DIGEST_CHARS = 16  # of the sha256 in a bronze or quarantine key: 64 bits, no collision in practice


@dataclass(frozen=True)
class Verdict:
    """What a file is (`format`, `delimiter`, `compressed`), or `reason` it is rejected."""

    format: str | None = None  # csv | json | ndjson | parquet
    delimiter: str | None = None
    compressed: bool = False
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def _reject(reason: str, detail: str = "") -> Verdict:
    return Verdict(reason=reason, detail=detail)


def unsafe_key_reason(key: str) -> str | None:
    """Why an object key must never be used as a path, or None when it is safe."""
    if key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        return "absolute path"
    if "\\" in key:
        return "backslash in key"
    if any(part in ("..", ".") for part in key.split("/")):
        return "path traversal segment"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        return "control character in key"
    return None


def extension_supported(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(".gz"):
        return lower[:-3].endswith(C.TEXT_EXTENSIONS)
    return lower.endswith((*C.TEXT_EXTENSIONS, ".parquet"))


def detect(data: bytes, name: str | None = None) -> Verdict:
    """Classify a file: supported extension, then content (gzip, Parquet, JSON, NDJSON, CSV/TXT)."""
    if name is not None and not extension_supported(name):
        return _reject(C.UNSUPPORTED_FORMAT, f"extension of {name!r} is not supported")
    if not data.strip():
        return _reject(C.EMPTY_FILE)
    if data[:2] == GZIP_MAGIC:
        try:
            inner = gunzip(data, MAX_DECOMPRESSED_BYTES)
        except TooLarge as exc:
            return _reject(C.TOO_LARGE, str(exc))
        except (OSError, EOFError, zlib.error) as exc:
            return _reject(C.CORRUPT_GZIP, str(exc))
        verdict = detect(inner)
        if verdict.ok and verdict.format == "parquet":
            return _reject(C.UNSUPPORTED_FORMAT, "gzip of parquet")
        return Verdict(verdict.format, verdict.delimiter, True, verdict.reason, verdict.detail)
    if data[:4] == PARQUET_MAGIC:
        return _detect_parquet(data)
    if name is not None and name.lower().endswith(".parquet"):
        return _reject(C.CORRUPT_PARQUET, "no PAR1 magic bytes")
    longest = longest_line(data)
    if longest > MAX_LINE_BYTES:
        return _reject(C.TOO_LARGE, f"a line of {longest} bytes (limit {MAX_LINE_BYTES})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _reject(C.UNREADABLE_ENCODING, f"not UTF-8 at byte {exc.start}")
    if "\x00" in text:
        return _reject(C.UNREADABLE_ENCODING, "NUL bytes in text")
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        return _detect_json(stripped)
    return _detect_delimited(text)


class TooLarge(ValueError):
    """Content past one of the size limits."""


def gunzip(data: bytes, limit: int) -> bytes:
    """gzip.decompress with a ceiling on the output: a small file that would expand past
    `limit` raises TooLarge after producing at most limit + 1 bytes (the standard library
    has no bounded one-shot form). Handles multi-member files like gzip.decompress."""
    out = bytearray()
    rest = data
    while rest:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += member.decompress(rest, limit + 1 - len(out))
        if len(out) > limit or member.unconsumed_tail:
            raise TooLarge(f"expands past {limit} bytes (compressed {len(data)} bytes)")
        if not member.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        rest = member.unused_data
        if rest and rest[:2] != GZIP_MAGIC:
            if rest.strip(b"\x00"):
                raise OSError("trailing garbage after the last gzip member")
            break
    return bytes(out)


def longest_line(data: bytes) -> int:
    """Length of the longest line, scanning without copying the data."""
    longest, start = 0, 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return max(longest, len(data) - start)
        longest = max(longest, end - start)
        start = end + 1


def _detect_parquet(data: bytes) -> Verdict:
    if len(data) < 12 or data[-4:] != PARQUET_MAGIC:
        return _reject(C.CORRUPT_PARQUET, "missing trailing PAR1 magic (truncated file)")
    try:
        meta = pq.read_metadata(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a bad footer
        return _reject(C.CORRUPT_PARQUET, f"unreadable footer: {exc}")
    return Verdict("parquet", detail=f"{meta.num_rows} rows")


def _why(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to parse"
    return str(exc)


def _detect_json(text: str) -> Verdict:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if text.startswith("{") and len(lines) > 1:
        # Each record is parsed and dropped: keeping millions of parsed records alive only to
        # check their type made memory and garbage-collection time grow faster than the file.
        for line in lines:
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
                return _reject(C.MALFORMED_JSON, f"NDJSON line fails to parse: {_why(exc)}")
            if not isinstance(record, dict):
                return _reject(C.MALFORMED_JSON, "NDJSON lines must be objects")
        return Verdict("ndjson", detail=f"{len(lines)} records")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _reject(C.MALFORMED_JSON, _why(exc))
    if isinstance(doc, dict):
        return Verdict("ndjson", detail="1 record")
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return Verdict("json", detail=f"{len(doc)} records")
    return _reject(C.MALFORMED_JSON, "expected an object or a non-empty array of objects")


def _detect_delimited(text: str) -> Verdict:
    sample = text[:SNIFF_BYTES]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters="".join(C.DELIMITERS)).delimiter
    except csv.Error:
        # The sniffer wants consistent rows; fall back to the header's most frequent
        # delimiter so a ragged file is reported as such rather than as unknown.
        header_line = next((ln for ln in sample.splitlines() if ln.strip()), "")
        counts = {d: header_line.count(d) for d in C.DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            return _reject(C.UNRECOGNISED_FORMAT, "no delimiter found in the header line")
    # Rows are checked as they are read, not kept (memory stays flat with the file's size).
    rows = (r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(map(str.strip, r)))
    try:
        header = next(rows, None)
        if header is None:  # only separators and blanks
            return _reject(C.EMPTY_FILE, "no non-blank row")
        if len(header) > MAX_COLUMNS:
            return _reject(C.TOO_LARGE, f"{len(header)} columns (limit {MAX_COLUMNS})")
        if len(header) < 2:
            return _reject(C.UNRECOGNISED_FORMAT, "fewer than two columns")
        if not all(cell.strip() for cell in header):
            return _reject(C.MALFORMED_CSV, "header has empty column names")
        count = 0
        for count, row in enumerate(rows, start=1):
            if len(row) != len(header):
                return _reject(
                    C.MALFORMED_CSV,
                    f"row {count + 1} has {len(row)} fields, header has {len(header)}",
                )
    except csv.Error as exc:  # e.g. a field past the csv module's field size limit
        return _reject(C.MALFORMED_CSV, str(exc))
    if count == 0:
        return _reject(C.EMPTY_FILE, "header only")
    return Verdict("csv", delimiter, detail=f"{count} rows")


@dataclass
class FileOutcome:
    """One ingestion log record."""

    dataset: str
    source_key: str
    outcome: str  # bronze | quarantine | duplicate | already_ingested
    target_key: str | None
    size: int
    sha256: str
    format: str | None = None
    delimiter: str | None = None
    compressed: bool = False
    reason: str | None = None
    detail: str = ""
    landed_at: str | None = None
    ingested_at: str = ""


def content_name(name: str, digest: str) -> str:
    """`name` with the first 16 hex digits of its content's sha256 before its extension
    (`orders.csv.gz` -> `orders.<digest>.csv.gz`): the same content under the same name keeps
    its key, a different content gets its own. A name without a known extension ends with
    the digest."""
    lower = name.lower()
    base = lower[:-3] if lower.endswith(".gz") else lower
    known = next((e for e in (*C.TEXT_EXTENSIONS, ".parquet") if base.endswith(e)), None)
    cut = len(name) - (len(lower) - len(base)) - len(known) if known else len(name)
    return f"{name[:cut]}.{digest[:DIGEST_CHARS]}{name[cut:]}"


def _log_key(dataset: str, digest: str, source_key: str) -> str:
    source_hash = hashlib.sha256(source_key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{LOG_PREFIX}/{dataset}/{digest}/{source_hash}.json"


def read_log(
    store: ObjectStore, bronze: str, dataset: str, digest: str | None = None
) -> list[dict]:
    prefix = f"{LOG_PREFIX}/{dataset}/" + (f"{digest}/" if digest else "")
    return [json.loads(store.get(bronze, o.key)) for o in store.list(bronze, prefix)]


def _write_verified(store: ObjectStore, bucket: str, key: str, data: bytes) -> None:
    store.put(bucket, key, data)
    back = store.get(bucket, key)
    if len(back) != len(data) or sha256(back) != sha256(data):
        raise OSError(f"verification failed for {bucket}/{key}: size or checksum differs")


def ingest_file(
    profile: Profile, store: ObjectStore, dataset: str, obj: ObjectInfo, now: datetime
) -> FileOutcome | None:
    """Ingest one RAW object; None when another run took it meanwhile."""
    zones = profile.zones
    try:
        data = store.get(zones.raw, obj.key)
    except MissingObject:
        return None
    digest = sha256(data)
    landed = obj.last_modified or now
    partition = f"{dataset}/ingest_date={landed:%Y-%m-%d}"
    name = PurePosixPath(obj.key).name
    unsafe = unsafe_key_reason(obj.key)
    verdict = _reject(C.UNSAFE_KEY, unsafe) if unsafe else detect(data, name)
    record = FileOutcome(
        dataset,
        obj.key,
        "bronze",
        None,
        len(data),
        digest,
        verdict.format,
        verdict.delimiter,
        verdict.compressed,
        verdict.reason,
        verdict.detail,
        landed.isoformat(),
        now.isoformat(),
    )
    if verdict.ok:
        prior = [
            r for r in read_log(store, zones.bronze, dataset, digest) if r["outcome"] == "bronze"
        ]
        if prior:
            same = [r for r in prior if r["source_key"] == obj.key]
            record.outcome = "already_ingested" if same else "duplicate"
            record.target_key = (same or prior)[0]["target_key"]
            if not same:
                store.put(
                    zones.bronze,
                    _log_key(dataset, digest, obj.key),
                    json.dumps(asdict(record)).encode(),
                )
            store.delete(zones.raw, obj.key)
            return record
        record.target_key = f"{partition}/{content_name(name, digest)}"
        _write_verified(store, zones.bronze, record.target_key, data)
    else:
        record.outcome = "quarantine"
        safe_name = f"unsafe-{digest[:DIGEST_CHARS]}" if unsafe else content_name(name, digest)
        record.target_key = f"{partition}/{safe_name}"
        _write_verified(store, zones.quarantine, record.target_key, data)
        store.put(
            zones.quarantine,
            f"{record.target_key}.reason.json",
            json.dumps(asdict(record), indent=2).encode(),
        )
    store.put(zones.bronze, _log_key(dataset, digest, obj.key), json.dumps(asdict(record)).encode())
    store.delete(zones.raw, obj.key)
    return record


def ingest_dataset(profile: Profile, dataset: str, store: ObjectStore | None = None) -> dict:
    """Ingest every file under raw/<dataset>/; returns a summary for metrics and XCom."""
    store = store or object_store(profile)
    started = datetime.now(UTC)
    outcomes, skipped = [], []
    for obj in list(store.list(profile.zones.raw, f"{dataset}/")):
        outcome = ingest_file(profile, store, dataset, obj, datetime.now(UTC))
        if outcome is None:
            # Gone between listing and reading: another run took it, or the server lists a
            # key it cannot serve back (some S3 servers mangle control characters).
            skipped.append(obj.key)
        else:
            outcomes.append(outcome)
    seconds = (datetime.now(UTC) - started).total_seconds()
    by = {
        k: sum(o.outcome == k for o in outcomes)
        for k in ("bronze", "quarantine", "duplicate", "already_ingested")
    }
    return {
        "stage": "raw_to_bronze",
        "dataset": dataset,
        "files_in": len(outcomes),
        **{f"files_{k}": v for k, v in by.items()},
        "files_skipped": len(skipped),
        "skipped_keys": skipped,
        "bytes": sum(o.size for o in outcomes),
        "started_at": round(started.timestamp(), 3),
        "duration_s": round(seconds, 3),
        "files": [asdict(o) for o in outcomes],
    }

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
import gzip
import hashlib
import io
import itertools
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import BinaryIO

import ijson
import pyarrow.parquet as pq

from lakehouse.backends.storage import (
    CHUNK_BYTES,
    MissingObject,
    ObjectInfo,
    ObjectStore,
    digest,
    object_store,
)
from lakehouse.config import Profile
from spark_jobs import contract as C

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024
LOG_PREFIX = "_ingestion_log"
# The input contract's limits (spark_jobs/contract.py), read once at import.
MAX_DECOMPRESSED_BYTES, MAX_LINE_BYTES, MAX_COLUMNS = (limit.value for limit in C.LIMITS)
DIGEST_CHARS = 16  # of the sha256 in a bronze or quarantine key: 64 bits, no collision in practice
MAX_JSON_DEPTH = 1000  # nesting in a JSON array file (the standard library's parser stops near it)


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


def detect(
    source: bytes | BinaryIO, name: str | None = None, tail: Callable[[int], bytes] | None = None
) -> Verdict:
    """Classify a file: supported extension, then content (gzip, Parquet, JSON, NDJSON, CSV/TXT).

    `source` is the whole content or a stream read once, front to back, in chunks (so a file of
    any size is classified in bounded memory); `tail(n)` returns its last n bytes (a Parquet
    footer), read from the store. The stream is read to its end whatever the verdict, so a
    caller hashing it sees every byte."""
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        source, tail = io.BytesIO(data), (lambda n: data[-n:])
    if name is not None and not extension_supported(name):
        _drain(source)
        return _reject(C.UNSUPPORTED_FORMAT, f"extension of {name!r} is not supported")
    head = _read_up_to(source, 4)
    stream = _Prefixed(head, source)
    if head[:2] == GZIP_MAGIC:
        return _detect_gzip(stream)
    if head == PARQUET_MAGIC:
        return _detect_parquet(stream, tail)
    if name is not None and name.lower().endswith(".parquet"):
        empty = not _drain(stream, find_content=True)
        return _reject(C.EMPTY_FILE) if empty else _reject(C.CORRUPT_PARQUET, "no PAR1 magic")
    return _detect_text(stream)


class TooLarge(ValueError):
    """Content past one of the size limits."""


class _Prefixed:
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.rest.read(size)
        cut = len(self.head) if size < 0 else size
        out, self.head = self.head[:cut], self.head[cut:]
        return out


class _Bounded:
    """A stream that raises TooLarge once more than `limit` bytes came through it."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream, self.limit, self.seen = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        out = self.stream.read(min(size, self.limit + 1 - self.seen) if size > 0 else size)
        self.seen += len(out)
        if self.seen > self.limit:
            raise TooLarge(f"expands past {self.limit} bytes")
        return out


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    out = b""
    while len(out) < size and (chunk := stream.read(size - len(out))):
        out += chunk
    return out


def _drain(stream, find_content: bool = False) -> bool:
    """Read a stream to its end; True if `find_content` and a non-whitespace byte was seen."""
    found = False
    while chunk := stream.read(CHUNK_BYTES):
        found = found or (find_content and bool(chunk.strip()))
    return found


def _detect_gzip(stream) -> Verdict:
    """The members decompressed as a stream (the standard library's reader: several members,
    zero padding, CRC and length checks), at most MAX_DECOMPRESSED_BYTES of output."""
    try:
        with gzip.GzipFile(fileobj=stream) as inner:
            verdict = detect(_Bounded(inner, MAX_DECOMPRESSED_BYTES))
    except TooLarge as exc:
        _drain(stream)
        return _reject(C.TOO_LARGE, f"{exc} (limit {MAX_DECOMPRESSED_BYTES})")
    except (OSError, EOFError, zlib.error) as exc:
        _drain(stream)
        return _reject(C.CORRUPT_GZIP, str(exc) or type(exc).__name__)
    if verdict.ok and verdict.format == "parquet":
        return _reject(C.UNSUPPORTED_FORMAT, "gzip of parquet")
    return Verdict(verdict.format, verdict.delimiter, True, verdict.reason, verdict.detail)


def _detect_parquet(stream, tail: Callable[[int], bytes] | None) -> Verdict:
    """Only the footer is parsed: the last 8 bytes give its length, `tail` reads it."""
    size, last = 0, b""
    while chunk := stream.read(CHUNK_BYTES):
        size += len(chunk)
        last = (last + chunk)[-8:]
    if size < 12 or last[-4:] != PARQUET_MAGIC:
        return _reject(C.CORRUPT_PARQUET, "missing trailing PAR1 magic (truncated file)")
    if tail is None:  # inside gzip: refused whatever its footer says
        return Verdict("parquet")
    footer = int.from_bytes(last[:4], "little")
    if footer + 12 > size:
        detail = f"unreadable footer: {footer} bytes in a {size}-byte file"
        return _reject(C.CORRUPT_PARQUET, detail)
    try:
        meta = pq.read_metadata(io.BytesIO(PARQUET_MAGIC + tail(footer + 8)))
    except Exception as exc:  # pyarrow raises several types for a bad footer
        return _reject(C.CORRUPT_PARQUET, f"unreadable footer: {exc}")
    return Verdict("parquet", detail=f"{meta.num_rows} rows")


class _TextScan:
    """One pass over a text file's bytes: the longest line, the first byte that is not UTF-8,
    NUL characters and whether anything but whitespace is there; `blocks()` yields the decoded
    text, whole lines at a time, until one of those makes the file unreadable (the scan goes on
    to the end without yielding, so the longest line is known whatever happens)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.longest = 0
        self.bad_byte: int | None = None
        self.nul = False
        self.content = False

    @property
    def readable(self) -> bool:
        return self.longest <= MAX_LINE_BYTES and self.bad_byte is None and not self.nul

    def blocks(self) -> Iterator[str]:
        carry, carried, offset = b"", 0, 0  # carried: the length of the unfinished line
        while True:
            chunk = self.stream.read(CHUNK_BYTES)
            self.content = self.content or bool(chunk.strip())
            last = chunk.rfind(b"\n")
            if chunk and last < 0:  # the line goes on
                carried += len(chunk)
                carry = carry + chunk if carried <= MAX_LINE_BYTES else b""
                self.longest = max(self.longest, carried)
                continue
            whole = carry + chunk[: last + 1] if chunk else carry
            lines = chunk[: last + 1].split(b"\n")
            self.longest = max(self.longest, carried + len(lines[0]), *map(len, lines[1:]))
            if whole and self.readable:
                if offset == 0 and whole.startswith(BOM):
                    whole, offset = whole[len(BOM) :], len(BOM)
                try:
                    text = whole.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.bad_byte = offset + exc.start
                else:
                    self.nul = "\x00" in text
                    if not self.nul:
                        yield text
            offset += len(whole)
            if not chunk:
                return
            carry = chunk[last + 1 :]
            carried = len(carry)
            self.longest = max(self.longest, carried)


BOM = b"\xef\xbb\xbf"


def _detect_text(stream) -> Verdict:
    scan = _TextScan(stream)
    blocks = scan.blocks()
    lines = (line for block in blocks for line in io.StringIO(block))
    verdict = _reject(C.EMPTY_FILE, "no non-blank line")
    leading = []  # whitespace-only lines before the first character
    for line in lines:
        leading.append(line)
        if line.strip():
            break
    first = leading[-1].lstrip()[:1] if leading else ""
    if first in ("[", "{"):
        verdict = _detect_json(first, itertools.chain(leading, lines))
    elif first:
        verdict = _detect_delimited(itertools.chain(leading, lines))
    for _ in blocks:  # the rest of the file: its lines' lengths still count
        pass
    if not scan.content:
        return _reject(C.EMPTY_FILE)
    if scan.longest > MAX_LINE_BYTES:
        return _reject(C.TOO_LARGE, f"a line of {scan.longest} bytes (limit {MAX_LINE_BYTES})")
    if scan.bad_byte is not None:
        return _reject(C.UNREADABLE_ENCODING, f"not UTF-8 at byte {scan.bad_byte}")
    if scan.nul:
        return _reject(C.UNREADABLE_ENCODING, "NUL bytes in text")
    return verdict


def _why(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to parse"
    return str(exc)


def _detect_json(first: str, lines: Iterator[str]) -> Verdict:
    """NDJSON (an object per line; one line is a single-record file) is parsed line by line;
    a JSON array by ijson's streaming parser, its elements never held (only their kind and
    nesting depth are looked at)."""
    if first == "[":
        return _detect_json_array(lines)
    records = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            return _reject(C.MALFORMED_JSON, f"line {records + 1} fails to parse: {_why(exc)}")
        if not isinstance(record, dict):
            return _reject(C.MALFORMED_JSON, "NDJSON lines must be objects")
        records += 1
    return Verdict("ndjson", detail=f"{records} record{'s' if records != 1 else ''}")


class _Utf8Lines:
    """A read()-able bytes stream over text lines (what ijson's parser reads from)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines

    def read(self, size: int = -1) -> bytes:
        return next(self.lines, "").encode() if size != 0 else b""  # read(0): ijson's type probe


def _detect_json_array(lines: Iterator[str]) -> Verdict:
    depth, records = 0, 0
    not_objects = _reject(C.MALFORMED_JSON, "expected an object or a non-empty array of objects")
    try:
        for event, _ in ijson.basic_parse(_Utf8Lines(lines)):
            if depth == 1 and event != "end_array" and event != "start_map":
                return not_objects
            if event in ("start_map", "start_array"):
                depth += 1
                records += depth == 2 and event == "start_map"
                if depth > MAX_JSON_DEPTH:
                    return _reject(C.MALFORMED_JSON, "nested too deeply to parse")
            elif event in ("end_map", "end_array"):
                depth -= 1
    except Exception as exc:  # ijson's errors, and ValueError for a number Python refuses
        return _reject(C.MALFORMED_JSON, str(exc).splitlines()[0] if str(exc) else repr(exc))
    if records == 0:
        return not_objects
    return Verdict("json", detail=f"{records} records")


def _detect_delimited(lines: Iterator[str]) -> Verdict:
    head: list[str] = []
    sampled = 0
    for line in lines:
        head.append(line)
        sampled += len(line)
        if sampled >= SNIFF_BYTES:
            break
    sample = "".join(head)[:SNIFF_BYTES]  # the first 64 KiB (whole lines) decide the delimiter
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
    reader = csv.reader(itertools.chain(head, lines), delimiter=delimiter)
    rows = (r for r in reader if any(map(str.strip, r)))
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


class _Hashing:
    """A stream that hashes and counts what is read through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.hash, self.size = stream, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        out = self.stream.read(size)
        self.hash.update(out)
        self.size += len(out)
        return out


def _copy_verified(
    store: ObjectStore, bucket: str, key: str, to_bucket: str, to_key: str, size: int, sha: str
) -> None:
    """Copy an object (server-side on S3) and read the copy back: the same size and sha256 as
    the content that was validated, or OSError (the RAW object changed meanwhile, or the copy
    is bad)."""
    store.copy(bucket, key, to_bucket, to_key)
    if digest(store, to_bucket, to_key) != (size, sha):
        raise OSError(f"verification failed for {to_bucket}/{to_key}: size or checksum differs")


def ingest_file(
    profile: Profile, store: ObjectStore, dataset: str, obj: ObjectInfo, now: datetime
) -> FileOutcome | None:
    """Ingest one RAW object; None when another run took it meanwhile. The object is read once
    as a stream (validated and hashed together), then copied by the store, never held whole."""
    zones = profile.zones
    name = PurePosixPath(obj.key).name
    unsafe = unsafe_key_reason(obj.key)
    try:
        with store.open(zones.raw, obj.key) as stream:
            content = _Hashing(stream)
            if unsafe:
                verdict = _reject(C.UNSAFE_KEY, unsafe)
            else:
                verdict = detect(content, name, lambda n: store.tail(zones.raw, obj.key, n))
            _drain(content)
    except MissingObject:
        return None
    sha = content.hash.hexdigest()
    landed = obj.last_modified or now
    partition = f"{dataset}/ingest_date={landed:%Y-%m-%d}"
    record = FileOutcome(
        dataset,
        obj.key,
        "bronze",
        None,
        content.size,
        sha,
        verdict.format,
        verdict.delimiter,
        verdict.compressed,
        verdict.reason,
        verdict.detail,
        landed.isoformat(),
        now.isoformat(),
    )
    if verdict.ok:
        prior = [r for r in read_log(store, zones.bronze, dataset, sha) if r["outcome"] == "bronze"]
        if prior:
            same = [r for r in prior if r["source_key"] == obj.key]
            record.outcome = "already_ingested" if same else "duplicate"
            record.target_key = (same or prior)[0]["target_key"]
            if not same:
                store.put(
                    zones.bronze,
                    _log_key(dataset, sha, obj.key),
                    json.dumps(asdict(record)).encode(),
                )
            store.delete(zones.raw, obj.key)
            return record
        record.target_key = f"{partition}/{content_name(name, sha)}"
        _copy_verified(
            store, zones.raw, obj.key, zones.bronze, record.target_key, content.size, sha
        )
    else:
        record.outcome = "quarantine"
        safe_name = f"unsafe-{sha[:DIGEST_CHARS]}" if unsafe else content_name(name, sha)
        record.target_key = f"{partition}/{safe_name}"
        _copy_verified(
            store, zones.raw, obj.key, zones.quarantine, record.target_key, content.size, sha
        )
        store.put(
            zones.quarantine,
            f"{record.target_key}.reason.json",
            json.dumps(asdict(record), indent=2).encode(),
        )
    store.put(zones.bronze, _log_key(dataset, sha, obj.key), json.dumps(asdict(record)).encode())
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

"""Format detection by content: each case is (bytes, expected bronze folder or reject reason)."""

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.ingest import bronze_key, detect


def _parquet() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), buf)
    return buf.getvalue()


CSV = b"event_id,user_id\ne1,1\ne2,2\n"
PARQUET = _parquet()

CASES = [
    ("csv", CSV, "csv", None),
    ("csv with BOM", b"\xef\xbb\xbf" + CSV, "csv", None),
    ("pipe txt", b"a|b|c\n1|2|3\n4|5|6\n", "csv_pipe", None),
    ("tab txt", b"a\tb\n1\t2\n", "csv_tab", None),
    ("ndjson", b'{"a": 1}\n{"a": 2}\n', "ndjson", None),
    ("json array", b'[{"a": 1}, {"a": 2}]', "json", None),
    ("single json object", b'{"a": 1}', "ndjson", None),
    ("gzip csv", gzip.compress(CSV), "csv", None),
    ("parquet", PARQUET, "parquet", None),
    ("empty", b"", None, "empty_file"),
    ("whitespace only", b"  \n\n", None, "empty_file"),
    ("header only", b"a,b\n", None, "empty_file"),
    ("truncated gzip", gzip.compress(CSV)[:-6], None, "corrupt_gzip"),
    ("truncated parquet", PARQUET[:-10], None, "corrupt_parquet"),
    ("parquet bad footer", PARQUET[:4] + b"\x00" * 40 + PARQUET[-8:], None, "corrupt_parquet"),
    ("truncated ndjson", b'{"a": 1}\n{"a": ', None, "malformed_json"),
    ("json scalar", b"[1, 2]", None, "malformed_json"),
    ("latin-1 text", "café,b\n1,2\n".encode("latin-1"), None, "unreadable_encoding"),
    ("binary", bytes(range(256)) * 4, None, "unreadable_encoding"),
    ("ragged csv", b"a,b,c\n1,2,3\n4,5\n", None, "malformed_csv"),
    ("one column", b"hello\nworld\n", None, "unrecognised_format"),
]


@pytest.mark.parametrize(
    ("data", "folder", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_detect(data: bytes, folder: str | None, reason: str | None):
    verdict = detect(data)
    assert (verdict.folder, verdict.reason) == (folder, reason), verdict.detail


def test_gzip_is_flagged_and_keeps_a_gz_extension_in_bronze():
    verdict = detect(gzip.compress(CSV))
    assert verdict.compressed
    assert bronze_key("events", "events/drop/batch.csv", verdict) == "events/csv/batch.csv.gz"
    assert bronze_key("events", "events/b.csv.gz", verdict) == "events/csv/b.csv.gz"

"""Format detection by content: each case is (bytes, expected bronze folder or reject reason)."""

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse import ingest
from lakehouse.ingest import detect, extension_supported, unsafe_key_reason


def _parquet() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), buf)
    return buf.getvalue()


CSV = b"event_id,user_id\ne1,1\ne2,2\n"
PARQUET = _parquet()

CASES = [
    ("csv", CSV, "csv", None),
    ("csv with BOM", b"\xef\xbb\xbf" + CSV, "csv", None),
    ("csv with CRLF", CSV.replace(b"\n", b"\r\n"), "csv", None),
    ("pipe txt", b"a|b|c\n1|2|3\n4|5|6\n", "csv", None),
    ("tab txt", b"a\tb\n1\t2\n", "csv", None),
    ("ndjson", b'{"a": 1}\n{"a": 2}\n', "ndjson", None),
    ("json array", b'[{"a": 1}, {"a": 2}]', "json", None),
    ("single json object", b'{"a": 1}', "ndjson", None),
    ("gzip csv", gzip.compress(CSV), "csv", None),
    ("parquet", PARQUET, "parquet", None),
    ("empty", b"", None, "empty_file"),
    ("whitespace only", b"  \n\n", None, "empty_file"),
    ("header only", b"a,b\n", None, "empty_file"),
    ("separators only", b",,,\n , ,\n", None, "empty_file"),
    ("truncated gzip", gzip.compress(CSV)[:-6], None, "corrupt_gzip"),
    ("truncated parquet", PARQUET[:-10], None, "corrupt_parquet"),
    ("parquet bad footer", PARQUET[:4] + b"\x00" * 40 + PARQUET[-8:], None, "corrupt_parquet"),
    ("truncated ndjson", b'{"a": 1}\n{"a": ', None, "malformed_json"),
    ("json scalar", b"[1, 2]", None, "malformed_json"),
    ("latin-1 text", "café,b\n1,2\n".encode("latin-1"), None, "unreadable_encoding"),
    ("binary", bytes(range(256)) * 4, None, "unreadable_encoding"),
    ("ragged csv", b"a,b,c\n1,2,3\n4,5\n", None, "malformed_csv"),
    ("one column", b"hello\nworld\n", None, "unrecognised_format"),
    ("two gzip members", gzip.compress(CSV[:17]) + gzip.compress(CSV[17:]), "csv", None),
    ("gzip, trailing garbage", gzip.compress(CSV) + b"junk", None, "corrupt_gzip"),
    ("nested too deeply", b"[" * 50_000 + b"]" * 50_000, None, "malformed_json"),
    (
        "ndjson nested too deeply",
        b'{"a": 1}\n' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        None,
        "malformed_json",
    ),
    ("integer of 10,000 digits", b'{"a": ' + b"9" * 10_000 + b"}", None, "malformed_json"),
    ("csv field past the csv limit", b"a,b\n" + b"x" * 200_000 + b",1\n", None, "malformed_csv"),
    (
        "2,000 columns",
        (",".join(f"c{i}" for i in range(2000)) + "\n" + ",".join("1" * 2000) + "\n").encode(),
        None,
        "too_large",
    ),
]


@pytest.mark.parametrize(
    ("data", "folder", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_detect(data: bytes, folder: str | None, reason: str | None):
    verdict = detect(data)
    assert (verdict.format, verdict.reason) == (folder, reason), verdict.detail


@pytest.mark.parametrize(
    ("data", "folder", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_detect_a_stream_read_in_small_chunks(monkeypatch, data, folder, reason):
    """Chunks of 7 bytes put line, UTF-8, gzip-member and footer boundaries inside chunks;
    the stream is read once, to its end, whatever the verdict."""
    monkeypatch.setattr(ingest, "CHUNK_BYTES", 7)
    stream = io.BytesIO(data)
    verdict = detect(stream, tail=lambda n: data[-n:])
    assert (verdict.format, verdict.reason) == (folder, reason), verdict.detail
    assert stream.tell() == len(data)


def test_delimiter_and_compression_are_reported():
    assert detect(b"a|b|c\n1|2|3\n").delimiter == "|"
    assert detect(gzip.compress(CSV)).compressed
    assert not detect(CSV).compressed


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a.csv", True),
        ("a.CSV", True),
        ("a.txt", True),
        ("a.ndjson", True),
        ("a.jsonl", True),
        ("a.json", True),
        ("a.parquet", True),
        ("a.csv.gz", True),
        ("a.json.gz", True),
        ("a.xlsx", False),
        ("a.gz", False),
        ("a.parquet.gz", False),
        ("a", False),
        ("a.xml", False),
    ],
)
def test_extension_allow_list(name, ok):
    assert extension_supported(name) is ok


def test_unsupported_extension_is_rejected_even_with_good_content():
    assert detect(CSV, "events.xlsx").reason == "unsupported_format"
    assert detect(b"not parquet at all,x\n1,2\n", "t.parquet").reason == "corrupt_parquet"


@pytest.mark.parametrize(
    ("key", "unsafe"),
    [
        ("events/a.csv", False),
        ("events/sub/a.csv", False),
        ("events/../../etc/passwd", True),
        ("/etc/passwd", True),
        ("events/./a.csv", True),
        ("events/a\x00.csv", True),
        ("events/a\nb.csv", True),
        ("events\\..\\a.csv", True),
        ("C:/x.csv", True),
    ],
)
def test_unsafe_keys(key, unsafe):
    assert (unsafe_key_reason(key) is not None) is unsafe


def test_limits_stop_a_gzip_bomb_and_a_giant_line(monkeypatch):
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    monkeypatch.setattr(ingest, "MAX_DECOMPRESSED_BYTES", 1_000_000)
    verdict = detect(bomb)
    assert verdict.reason == "too_large" and "1000000" in verdict.detail
    monkeypatch.setattr(ingest, "MAX_DECOMPRESSED_BYTES", 6_000_000)
    assert detect(bomb).reason == "malformed_json"  # within the limit: its content is judged

    monkeypatch.setattr(ingest, "MAX_LINE_BYTES", 1000)
    verdict = detect(b'{"a": "' + b"x" * 2000 + b'"}')
    assert verdict.reason == "too_large" and "2009 bytes" in verdict.detail
    assert detect(b'{"a": "' + b"x" * 900 + b'"}').ok


@pytest.mark.parametrize("chunk", [1, 4, 1 << 20])
@pytest.mark.parametrize(
    ("data", "longest"),
    [
        (b"a,b\n" + b"1," + b"2" * 18 + b"\n", 20),
        (b"a,b\n1,2\n" + b"9" * 25, 25),
        (b"a," + b"b" * 30 + b"\r\n1,2\n", 33),
        (b"a,b\n" + b"3," * 15 + b"\n" + b"4," * 12, 30),
    ],
)
def test_the_longest_line_is_measured_across_chunks(monkeypatch, chunk, data, longest):
    monkeypatch.setattr(ingest, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(ingest, "MAX_LINE_BYTES", longest - 1)
    assert detect(io.BytesIO(data)).detail == f"a line of {longest} bytes (limit {longest - 1})"
    monkeypatch.setattr(ingest, "MAX_LINE_BYTES", longest)
    assert detect(io.BytesIO(data)).reason != "too_large"


def test_encoding_errors_name_their_byte_across_chunks(monkeypatch):
    data = b"\xef\xbb\xbfa,b\n1,2\n3,caf\xe9\n"
    bad = data.index(b"\xe9")
    for chunk in (1, 3, 1 << 20):
        monkeypatch.setattr(ingest, "CHUNK_BYTES", chunk)
        assert detect(io.BytesIO(data)).detail == f"not UTF-8 at byte {bad}"

"""The input contract, in one place: what a landed file may be, what its values may look like,
and the reason code for everything the pipeline refuses.

Ingestion (lakehouse/ingest/), SILVER (spark_jobs/silver/), the data generator (seed_data/)
and the docs (docs/datasets.md, generated from here by `make docs`) all read this module.
Plain Python, no pyspark: it ships to Glue inside spark_jobs.zip and the Airflow workers import
it for ingestion. What each dataset's columns are (types, keys, enum values) is the registry's
business (config/datasets.yaml), not this module's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    means: str


# ------------------------------------------------------------------------- RAW -> BRONZE
# A file the ingestion refuses goes whole to the quarantine zone with `<file>.reason.json`.
EMPTY_FILE = "empty_file"
CORRUPT_GZIP = "corrupt_gzip"
MALFORMED_JSON = "malformed_json"
MALFORMED_CSV = "malformed_csv"
UNRECOGNISED_FORMAT = "unrecognised_format"
UNREADABLE_ENCODING = "unreadable_encoding"
CORRUPT_PARQUET = "corrupt_parquet"
UNSUPPORTED_FORMAT = "unsupported_format"
TOO_LARGE = "too_large"
UNSAFE_KEY = "unsafe_key"

FILE_REASONS = (
    Reason(EMPTY_FILE, "no bytes, only whitespace, or a header with no rows"),
    Reason(CORRUPT_GZIP, "gzip magic bytes, but the stream does not decompress"),
    Reason(MALFORMED_JSON, "starts like JSON, but neither a JSON document nor NDJSON parses"),
    Reason(MALFORMED_CSV, "an empty column name in the header, or a row whose field count differs"),
    Reason(UNRECOGNISED_FORMAT, "text with no delimiter in its header line, or one column only"),
    Reason(UNREADABLE_ENCODING, "text that is not UTF-8, or carries NUL bytes"),
    Reason(CORRUPT_PARQUET, "a `.parquet` name or PAR1 magic, but no readable Parquet footer"),
    Reason(UNSUPPORTED_FORMAT, "an extension outside the accepted ones, or gzip of Parquet"),
    Reason(TOO_LARGE, "past one of the limits above (decompressed size, line length, columns)"),
    Reason(UNSAFE_KEY, "a key with `..`, a backslash, an absolute path or a control character"),
)

TEXT_EXTENSIONS = (".csv", ".txt", ".json", ".ndjson", ".jsonl")
# Text files may also be gzipped (`.csv.gz`, ...); Parquet may not (it compresses itself).
SUPPORTED_EXTENSIONS = (*TEXT_EXTENSIONS, ".parquet", ".gz")
DELIMITERS = (",", "|", "\t", ";")  # sniffed from the content of .csv and .txt files


@dataclass(frozen=True)
class Limit:
    name: str
    env: str
    default: int
    means: str

    @property
    def value(self) -> int:
        return int(os.environ.get(self.env, self.default))


# Limits that keep one hostile file from exhausting a worker (each overridable by environment).
LIMITS = (
    Limit(
        "max_decompressed_bytes",
        "LAKEHOUSE_MAX_DECOMPRESSED_BYTES",
        256 * 2**20,
        "a gzip member may expand to at most this (a zip bomb stops here)",
    ),
    Limit(
        "max_line_bytes",
        "LAKEHOUSE_MAX_LINE_BYTES",
        32 * 2**20,
        "one line of text: an NDJSON record, a CSV row, a whole single-line JSON document",
    ),
    Limit("max_columns", "LAKEHOUSE_MAX_COLUMNS", 1024, "columns in one file"),
)

# --------------------------------------------------------------------------- GOLD -> warehouse
# Next to each table's Parquet export: its validation figures, computed by silver_to_gold.
FIGURES_FILE = "_figures.json"

# --------------------------------------------------------------------------- BRONZE -> SILVER
# Values: accepted spellings of null (after trimming; case-sensitive as listed, plus JSON null).
NULL_SPELLINGS = ("", "null", "NULL", "None", "N/A", "-")


@dataclass(frozen=True)
class TimestampFormat:
    name: str
    example: str
    spark_pattern: str | None  # None: epoch digits, told apart by count


# All read as UTC unless they carry an offset. `DD/MM/YYYY HH:MM` is always day-first
# (01/02/2026 is 1 February); epoch values: 10 digits are seconds, 13 are milliseconds.
TIMESTAMP_FORMATS = (
    TimestampFormat("iso_z", "2026-11-01T10:00:00Z", "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"),
    TimestampFormat("iso_offset", "2026-11-01T12:00:00+02:00", "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"),
    TimestampFormat("iso_local", "2026-11-01T10:00:00", "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]"),
    TimestampFormat("space", "2026-11-01 10:00:00", "yyyy-MM-dd HH:mm:ss[.SSSSSS]"),
    TimestampFormat("epoch_s", "1793527200", None),
    TimestampFormat("epoch_ms", "1793527200000", None),
    TimestampFormat("day_first", "01/11/2026 10:00", "dd/MM/yyyy HH:mm"),
)
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

# A row SILVER refuses goes to the row quarantine with every reason it breaks, in this order.
MISSING_REQUIRED_KEY = "missing_required_key"
INVALID_TIMESTAMP = "invalid_timestamp"
INVALID_NUMBER = "invalid_number"
UNKNOWN_ENUM = "unknown_enum"
NEGATIVE_AMOUNT = "negative_amount"
INVALID_CURRENCY = "invalid_currency"
MALFORMED_EMAIL = "malformed_email"
# Every row of a file goes to the row quarantine with one of these, whatever its own state.
RELEASED_BY_OPERATOR = "released_by_operator"
FILE_ERROR_RATE = "file_error_rate"

ROW_REASONS = (
    Reason(MISSING_REQUIRED_KEY, "a required column is null after null standardisation"),
    Reason(INVALID_TIMESTAMP, "a timestamp in none of the accepted formats"),
    Reason(INVALID_NUMBER, "a long, double or money column that does not parse"),
    Reason(UNKNOWN_ENUM, "a value outside the column's `values` in the registry"),
    Reason(NEGATIVE_AMOUNT, "a money amount below zero"),
    Reason(INVALID_CURRENCY, "a currency outside the column's `values`"),
    Reason(MALFORMED_EMAIL, "an email that does not match the email pattern"),
)
FILE_ROW_REASONS = (
    Reason(
        RELEASED_BY_OPERATOR, "the file was released by an operator (`lakehouse silver release`)"
    ),
    Reason(FILE_ERROR_RATE, "the file's own share of bad rows is above `max_file_error_rate`"),
)
ROW_REASON_CODES = tuple(r.code for r in ROW_REASONS)

"""The input contract: what the reference data may contain and what a correct pipeline makes
of it. The generator plants exactly these faults; SILVER must accept or quarantine them as
stated here. The README's "Input contract" table mirrors this module.
"""

from __future__ import annotations

# Row quarantine reason codes (one planted fault per bad row, so the expected code is exact).
MISSING_REQUIRED_KEY = "missing_required_key"
INVALID_TIMESTAMP = "invalid_timestamp"
UNKNOWN_ENUM = "unknown_enum"
NEGATIVE_AMOUNT = "negative_amount"
INVALID_CURRENCY = "invalid_currency"
MALFORMED_EMAIL = "malformed_email"

# File quarantine reason codes (RAW -> BRONZE).
EMPTY_FILE = "empty_file"
CORRUPT_GZIP = "corrupt_gzip"
MALFORMED_JSON = "malformed_json"
UNREADABLE_ENCODING = "unreadable_encoding"
CORRUPT_PARQUET = "corrupt_parquet"
UNSUPPORTED_FORMAT = "unsupported_format"

SUPPORTED_EXTENSIONS = (".csv", ".txt", ".json", ".ndjson", ".jsonl", ".parquet", ".gz")

EVENT_TYPES = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "login",
    "logout",
)
DEVICES = ("web", "ios", "android")
TRANSACTION_STATUSES = ("completed", "pending", "failed", "refunded", "cancelled")
PAYMENT_METHODS = ("card", "paypal", "bank_transfer", "apple_pay", "google_pay")
USER_STATUSES = ("active", "suspended", "closed")
CURRENCIES = ("USD", "EUR", "GBP", "PLN", "BRL", "INR", "JPY")
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "BR", "IN", "JP", "CA")

# Accepted spellings of null (after trimming; matched case-sensitively as listed, plus JSON null).
NULL_SPELLINGS = ("", "null", "NULL", "None", "N/A", "-")

# Accepted timestamp formats, all read as UTC unless they carry an offset. `DD/MM/YYYY HH:MM`
# is always day-first (01/02/2026 is 1 February); epoch values are told apart by magnitude:
# 10 digits are seconds, 13 digits are milliseconds.
TIMESTAMP_FORMATS = (
    "iso_z",  # 2026-11-01T10:00:00Z
    "iso_offset",  # 2026-11-01T12:00:00+02:00
    "space",  # 2026-11-01 10:00:00
    "epoch_s",  # 1793527200
    "epoch_ms",  # 1793527200000
    "day_first",  # 01/11/2026 10:00
)

# Business keys: duplicates of a key collapse to one row; the latest timestamp wins.
BUSINESS_KEYS = {
    "events": ("event_id",),
    "transactions": ("transaction_id",),
    "users": ("user_id", "updated_at"),  # SCD2: one version per change
    "shipment_tracking": ("device_id", "reading_ts"),
}
ORDER_BY = {"events": "event_ts", "transactions": "transaction_ts"}

CANONICAL_COLUMNS = {
    "events": (
        "event_id",
        "user_id",
        "event_type",
        "event_ts",
        "session_id",
        "device",
        "country",
        "product_id",
        "properties",
    ),
    "transactions": (
        "transaction_id",
        "user_id",
        "amount",
        "currency",
        "status",
        "payment_method",
        "transaction_ts",
    ),
    "users": ("user_id", "email", "full_name", "country", "signup_ts", "status", "updated_at"),
    "shipment_tracking": (
        "device_id",
        "shipment_id",
        "reading_ts",
        "lat",
        "lon",
        "temperature_c",
        "status_code",
    ),
}
REQUIRED_COLUMNS = {
    "events": ("event_id", "user_id", "event_type", "event_ts"),
    "transactions": ("transaction_id", "user_id", "amount", "currency", "status", "transaction_ts"),
    "users": ("user_id", "email", "updated_at"),
    "shipment_tracking": ("device_id", "shipment_id", "reading_ts"),
}

"""What the reference data may contain and what a correct pipeline makes of it. The reason
codes, null spellings and accepted formats are the input contract's (spark_jobs/contract.py,
re-exported here); the domain values below are the generator's own, written independently of
the registry so that a wrong value in config/datasets.yaml shows as quarantined rows.
"""

from __future__ import annotations

from spark_jobs.contract import (  # noqa: F401 - re-exported for the generator and its tests
    CORRUPT_GZIP,
    CORRUPT_PARQUET,
    EMPTY_FILE,
    INVALID_CURRENCY,
    INVALID_TIMESTAMP,
    MALFORMED_EMAIL,
    MALFORMED_JSON,
    MISSING_REQUIRED_KEY,
    NEGATIVE_AMOUNT,
    NULL_SPELLINGS,
    SUPPORTED_EXTENSIONS,
    UNKNOWN_ENUM,
    UNREADABLE_ENCODING,
    UNSUPPORTED_FORMAT,
)

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

# The timestamp spellings the generator writes: a subset of the accepted ones
# (spark_jobs/contract.py), in a fixed order the committed sample depends on.
TIMESTAMP_FORMATS = ("iso_z", "iso_offset", "space", "epoch_s", "epoch_ms", "day_first")

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

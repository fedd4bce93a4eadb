"""Static reference data the gold layer needs: currency rates to USD, country names, and the
transaction status catalogue. Rates are fixed on purpose (documented, reproducible figures);
a production deployment would source them from a rates feed into silver."""

from __future__ import annotations

from decimal import Decimal

# Units of USD per one unit of the currency (fixed reference rates).
USD_RATES = {
    "USD": Decimal("1.0"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "PLN": Decimal("0.25"),
    "BRL": Decimal("0.20"),
    "INR": Decimal("0.012"),
    "JPY": Decimal("0.0067"),
}
COUNTRIES = {
    "US": ("United States", "Americas"),
    "CA": ("Canada", "Americas"),
    "BR": ("Brazil", "Americas"),
    "GB": ("United Kingdom", "Europe"),
    "DE": ("Germany", "Europe"),
    "FR": ("France", "Europe"),
    "ES": ("Spain", "Europe"),
    "IT": ("Italy", "Europe"),
    "NL": ("Netherlands", "Europe"),
    "PL": ("Poland", "Europe"),
    "IN": ("India", "Asia"),
    "JP": ("Japan", "Asia"),
}
# status -> (counts as revenue, is a refund, counts toward GMV)
STATUSES = {
    "completed": (True, False, True),
    "pending": (False, False, True),
    "refunded": (False, True, True),
    "failed": (False, False, False),
    "cancelled": (False, False, False),
}

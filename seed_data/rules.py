"""GOLD's business rules as docs/pipeline.md states them, written out for the two independent
computations of GOLD: the generator's manifest (seed_data/truth.py) and the DuckDB peer
(benchmarks/peer_duckdb.py). Never imported from spark_jobs: a wrong constant in the jobs then
shows as Spark disagreeing with both, rather than being wrong everywhere."""

from __future__ import annotations

from decimal import Decimal

USD_RATES = {  # USD per unit of the currency (fixed reference rates)
    "USD": Decimal("1.0"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "PLN": Decimal("0.25"),
    "BRL": Decimal("0.20"),
    "INR": Decimal("0.012"),
    "JPY": Decimal("0.0067"),
}
STATUSES = {  # transaction status -> (counts as revenue, is a refund, counts toward GMV)
    "completed": (True, False, True),
    "pending": (False, False, True),
    "refunded": (False, True, True),
    "failed": (False, False, False),
    "cancelled": (False, False, False),
}
COLD_CHAIN_C = (2.0, 8.0)  # a reading outside the band is a temperature excursion
LATE_HOURS = 48  # a delivery taking longer is late
CHURN_DAYS = 30  # customer_360: churn risk when the last order is older
VIP_LTV_USD = 1000  # segment `vip` from this lifetime value
LOYAL_ORDERS = 3  # segment `loyal` from this many orders

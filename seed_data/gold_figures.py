"""The manifest's `gold` section read back from GOLD tables in any SQL engine (the DuckDB
peer, the PostgreSQL warehouse): the same queries and the same shape as the generator's
figures, so a comparison with manifest.json is a plain equality per figure.

`query(sql)` runs one statement and returns its rows as tuples; `schema` prefixes the table
names where the tables live in a schema. The named user_ltv rows follow the manifest's rule:
the three biggest buyers (most orders, then lowest id), the lowest and the highest buyer id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTIVITY = ("rows", "events", "sessions", "purchases", "rows_with_orders_only")


def gold_figures(query: Callable[[str], list[tuple]], schema: str = "") -> dict[str, Any]:
    def q(sql: str) -> list[tuple]:
        return query(sql.format(p=f'"{schema}".' if schema else ""))

    counts: dict[str, dict] = {}
    for day, event_type, n, users in sorted(
        q("SELECT event_date, event_type, event_count, unique_users FROM {p}daily_event_counts")
    ):
        counts.setdefault(str(day), {})[event_type] = {"event_count": n, "unique_users": users}
    revenue: dict[str, dict] = {}
    for day, currency, gross, refunds, net in sorted(
        q("SELECT revenue_date, currency, gross, refunds, net FROM {p}daily_revenue")
    ):
        revenue.setdefault(str(day), {})[currency] = {
            "gross": f"{gross:.2f}",
            "refunds": f"{refunds:.2f}",
            "net": f"{net:.2f}",
        }
    net_by_currency = q(
        "SELECT currency, CAST(sum(net) AS DECIMAL(18, 2)) FROM {p}daily_revenue GROUP BY currency"
    )
    ((buyers, total),) = q("SELECT count(*), sum(orders) FROM {p}user_ltv")
    named = q(
        """SELECT user_id, orders, first_order_date, last_order_date FROM {p}user_ltv
        WHERE user_id IN (SELECT user_id FROM {p}user_ltv ORDER BY orders DESC, user_id LIMIT 3)
           OR user_id = (SELECT min(user_id) FROM {p}user_ltv)
           OR user_id = (SELECT max(user_id) FROM {p}user_ltv)"""
    )
    (activity,) = q(
        """SELECT count(*), sum(events), sum(sessions), sum(purchases),
        count(*) FILTER (WHERE events = 0) FROM {p}fact_user_activity"""
    )
    return {
        "daily_active_users": {
            str(d): n
            for d, n in sorted(q("SELECT activity_date, active_users FROM {p}daily_active_users"))
        },
        "net_revenue_by_currency": {c: f"{v:.2f}" for c, v in sorted(net_by_currency)},
        "orders_per_day": {
            str(d): n
            for d, n in sorted(q("SELECT sales_date, orders FROM {p}sales_daily WHERE orders > 0"))
        },
        "daily_event_counts": counts,
        "daily_revenue": revenue,
        "transactions_by_status": dict(
            sorted(q("SELECT status, count(*) FROM {p}fact_transactions GROUP BY 1"))
        ),
        "user_ltv": {
            "buyers": buyers,
            "orders": int(total or 0),
            "rows": {
                str(u): {
                    "orders": n,
                    "first_order_date": str(first),
                    "last_order_date": str(last),
                }
                for u, n, first, last in sorted(named)
            },
        },
        "fact_user_activity": dict(zip(ACTIVITY, (int(v or 0) for v in activity), strict=True)),
        "dim_country": [c for (c,) in q("SELECT country_code FROM {p}dim_country ORDER BY 1")],
    }

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

from seed_data.rules import LATE_HOURS
from seed_data.truth import fraction

ACTIVITY = ("rows", "events", "sessions", "purchases", "rows_with_orders_only")
SHIPMENTS = (
    "rows",
    "shipping_cost",
    "delivered",
    "late",
    "delivery_hours",
    "readings",
    "max_temperature_c",
    "temperature_excursions",
)
CARRIER = (
    "shipments",
    "delivered",
    "p50_delivery_hours",
    "p90_delivery_hours",
    "late_delivery_rate",
    "shipping_cost_per_order",
    "temperature_excursions",
    "returned",
    "return_rate",
)
STOCK = ("quantity_on_hand", "out_of_stock", "units_sold", "days_on_hand")


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
    ((buyers, total, ltv),) = q("SELECT count(*), sum(orders), sum(ltv_usd) FROM {p}user_ltv")
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
            "ltv_usd": _money(ltv),
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
        "sales_daily": {
            str(d): {"orders": n, "gmv_usd": _money(gmv), "net_revenue_usd": _money(net)}
            for d, n, gmv, net in sorted(
                q("SELECT sales_date, orders, gmv_usd, net_revenue_usd FROM {p}sales_daily")
            )
        },
        "customer_360": _customers(q),
        **_dimensions(q),
        **_operational(q),
    }


def _money(value) -> str:
    return f"{value or 0:.2f}"


def _plain(value):
    """A figure as the manifest writes it: decimals as text, floats to six places."""
    if isinstance(value, int) or value is None:  # bool is an int too
        return value
    if isinstance(value, float):
        return fraction(value)
    return _money(value) if hasattr(value, "quantize") else value


def _counts(rows: list[tuple]) -> dict[str, int]:
    return {str(k): int(n) for k, n in sorted(rows)}


def _customers(q: Callable[[str], list[tuple]]) -> dict[str, Any]:
    ((rows, churn, orders, ltv),) = q(
        """SELECT count(*), count(*) FILTER (WHERE churn_risk), sum(orders), sum(ltv_usd)
        FROM {p}customer_360"""
    )
    return {
        "rows": rows,
        "segments": _counts(q("SELECT segment, count(*) FROM {p}customer_360 GROUP BY 1")),
        "churn_risk": churn,
        "orders": int(orders or 0),
        "ltv_usd": _money(ltv),
        "statuses": _counts(q("SELECT status, count(*) FROM {p}customer_360 GROUP BY 1")),
        "retention": {
            str(month): {
                "buyers": buyers,
                "retained": retained,
                "lapsed": lapsed,
                "unobserved": buyers - retained - lapsed,
                "retention_rate": fraction(retained / (retained + lapsed))
                if retained + lapsed
                else None,
            }
            for month, buyers, retained, lapsed in sorted(
                q(
                    """SELECT first_order_month, count(*), count(*) FILTER (WHERE retained),
                    count(*) FILTER (WHERE NOT retained)
                    FROM {p}customer_360 WHERE first_order_month IS NOT NULL GROUP BY 1"""
                )
            )
        },
    }


def _dimensions(q: Callable[[str], list[tuple]]) -> dict[str, Any]:
    ((users, current),) = q("SELECT count(*), count(*) FILTER (WHERE is_current) FROM {p}dim_users")
    ((days, first, last, weekend),) = q(
        """SELECT count(*), min(date), max(date), count(*) FILTER (WHERE is_weekend)
        FROM {p}dim_date"""
    )
    statuses = q(
        "SELECT status, is_revenue, is_refund, counts_toward_gmv FROM {p}dim_status ORDER BY 1"
    )
    return {
        "dim_users": {"rows": users, "current": current},
        "dim_date": {"rows": days, "first": str(first), "last": str(last), "weekend_days": weekend},
        "dim_status": {s: [bool(f) for f in flags] for s, *flags in statuses},
    }


def _operational(q: Callable[[str], list[tuple]]) -> dict[str, Any]:
    """dim_product, fact_shipments, delivery_performance and inventory_health; the named rows
    are the lowest and highest product ids (and the dearest product)."""
    ((products, price),) = q("SELECT count(*), sum(unit_price) FROM {p}dim_product")
    named = q(
        """SELECT product_id, name, category, unit_price FROM {p}dim_product
        WHERE product_id IN (SELECT min(product_id) FROM {p}dim_product)
           OR product_id IN (SELECT max(product_id) FROM {p}dim_product)
           OR product_id IN (SELECT product_id FROM {p}dim_product
                             ORDER BY unit_price DESC, product_id LIMIT 1)"""
    )
    (shipped,) = q(
        f"""SELECT count(*), sum(shipping_cost), count(delivery_hours),
        count(*) FILTER (WHERE delivery_hours > {LATE_HOURS}), sum(delivery_hours),
        sum(readings), max(max_temperature_c), sum(temperature_excursions)
        FROM {{p}}fact_shipments"""
    )
    (stock,) = q(
        """SELECT count(*), count(*) FILTER (WHERE out_of_stock), sum(quantity_on_hand),
        sum(units_sold), count(*) FILTER (WHERE units_sold = 0), sum(out_of_stock_incidents)
        FROM {p}inventory_health"""
    )
    rows = q(
        f"""SELECT product_id, warehouse_id, {", ".join(STOCK)}, turnover FROM {{p}}inventory_health
        WHERE product_id IN (SELECT min(product_id) FROM {{p}}inventory_health)
           OR product_id IN (SELECT max(product_id) FROM {{p}}inventory_health)"""
    )
    carriers = q(f"SELECT carrier, {', '.join(CARRIER)} FROM {{p}}delivery_performance")
    sales = q(
        """SELECT sales_date, count(*), sum(units), sum(list_value)
        FROM {p}product_sales_daily GROUP BY 1"""
    )
    shipments = dict(zip(SHIPMENTS, shipped, strict=True))
    for name in ("rows", "delivered", "late", "readings", "temperature_excursions"):
        shipments[name] = int(shipments[name] or 0)  # sum() of integers is numeric in SQL
    for name in ("delivery_hours", "max_temperature_c"):
        shipments[name] = fraction(shipments[name])
    shipments["shipping_cost"] = _money(shipments["shipping_cost"])
    shipments["statuses"] = _counts(q("SELECT status, count(*) FROM {p}fact_shipments GROUP BY 1"))
    return {
        "dim_product": {
            "rows": products,
            "categories": _counts(q("SELECT category, count(*) FROM {p}dim_product GROUP BY 1")),
            "unit_price": _money(price),
            "rows_named": {
                k: {"name": n, "category": c, "unit_price": _money(v)}
                for k, n, c, v in sorted(named)
            },
        },
        "product_sales_daily": {
            "rows": sum(n for _d, n, _u, _v in sales),
            "units": sum(int(u) for _d, _n, u, _v in sales),
        },
        "product_price_history": {
            "list_value": _money(sum((v for _d, _n, _u, v in sales), 0)),
            "list_value_per_day": {str(d): _money(v) for d, _n, _u, v in sorted(sales)},
        },
        "fact_shipments": shipments,
        "delivery_performance": {
            c: dict(zip(CARRIER, map(_plain, r), strict=True)) for c, *r in sorted(carriers)
        },
        "inventory_health": {
            "rows": stock[0],
            "out_of_stock": stock[1],
            "quantity_on_hand": int(stock[2] or 0),
            "units_sold": int(stock[3] or 0),
            "rows_without_sales": stock[4],
            "rows_named": {
                f"{k}/{w}": dict(zip(STOCK, map(_plain, r[:4]), strict=True))
                for k, w, *r in sorted(rows)
            },
        },
        "inventory_history": {
            "out_of_stock_incidents": int(stock[5] or 0),
            "turnover_named": {f"{k}/{w}": _plain(r[4]) for k, w, *r in sorted(rows)},
        },
    }

"""The manifest's `gold` section: what every GOLD table must hold, computed in plain Python from
the values the generator wrote (the winner of each key) and the rules docs/pipeline.md states
(seed_data/rules.py), never from the jobs' code. Days are UTC.

Figures are chosen so a wrong join, filter, date or dedupe moves one of them: sums of money in
decimal, distinct keys, per-day counts, and a few named rows in full. Floating-point figures
(percentiles, rates, turnover) are rounded to six places here and by the reader
(seed_data/gold_figures.py). Figures that depend on the operational source being read after
every batch (the inventory's change history) are kept apart in `inventory_history`: a stack
that loads all batches before its first run sees only each row's final version; so are the
values of purchases at the price of their day (`product_price_history`), which need every price
the source held.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from seed_data import rules

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
GMV_STATUSES = tuple(s for s, (_, _, gmv) in rules.STATUSES.items() if gmv)
# figures that need the source read after every batch
BATCHWISE = ("inventory_history", "product_price_history")


def usd(amount: Decimal, currency: str) -> Decimal:
    """An amount in USD at the reference rate, rounded half up to the cent (as a decimal cast)."""
    return (amount * rules.USD_RATES[currency]).quantize(CENT, ROUND_HALF_UP)


def fraction(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def percentile(values: list[float], p: float) -> float | None:
    """The exact percentile with linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Gold:
    """GOLD figures of the file datasets, fed record by record as the generator accepts them."""

    dau: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    orders: Counter = field(default_factory=Counter)
    revenue: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # (day, event_type) -> events, and the distinct users among them
    event_counts: Counter = field(default_factory=Counter)
    event_users: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    # (day, currency, status) -> amount, for completed and refunded transactions
    money: dict[tuple[str, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # (day, status) -> amount in USD, for the statuses that count toward GMV
    money_usd: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    statuses: Counter = field(default_factory=Counter)
    # user_id -> completed order days, and their value in USD
    order_days: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    ltv_usd: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # (user_id, day) -> events, sessions, purchase events
    activity: dict[tuple[int, str], list] = field(
        default_factory=lambda: defaultdict(lambda: [0, set(), 0])
    )
    countries: set[str] = field(default_factory=set)
    days: set[str] = field(default_factory=set)  # with an event or a transaction
    units: Counter = field(default_factory=Counter)  # product_id -> purchase events
    purchases: list[tuple[datetime, str]] = field(default_factory=list)  # (event time, product)
    sales_days: set[str] = field(default_factory=set)  # with a transaction

    def event(
        self,
        day: str,
        event_type: str,
        user_id: int,
        session_id: str,
        country: str,
        product_id: str | None,
    ) -> None:
        self.days.add(day)
        self.dau[day].add(user_id)
        self.event_counts[day, event_type] += 1
        self.event_users[day, event_type].add(user_id)
        figures = self.activity[user_id, day]
        figures[0] += 1
        figures[1].add(session_id)
        figures[2] += event_type == "purchase"
        self.countries.add(country.upper())
        if event_type == "purchase" and product_id:
            self.units[product_id] += 1

    def purchase(self, ts: datetime, product_id: str) -> None:
        """A purchase event SILVER keeps, at its UTC time (naive)."""
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        self.purchases.append((ts, product_id))

    def transaction(
        self, day: str, status: str, currency: str, amount: Decimal, user_id: int
    ) -> None:
        self.days.add(day)
        self.sales_days.add(day)
        self.statuses[status] += 1
        if status in ("completed", "refunded"):
            self.money[day, currency, status] += amount
        in_usd = usd(amount, currency)
        if status in GMV_STATUSES:
            self.money_usd[day, status] += in_usd
        if status == "completed":
            self.orders[day] += 1
            self.revenue[currency] += amount
            self.order_days[user_id].append(day)
            self.ltv_usd[user_id] += in_usd

    def daily_revenue(self) -> dict[str, dict[str, dict[str, str]]]:
        """day -> currency -> gross (completed + refunded), refunds, net (= completed)."""
        out: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
        for day, currency in sorted({(d, c) for d, c, _ in self.money}):
            done = self.money.get((day, currency, "completed"), ZERO)
            refunds = self.money.get((day, currency, "refunded"), ZERO)
            out[day][currency] = {
                "gross": str(done + refunds),
                "refunds": str(refunds),
                "net": str(done),
            }
        return dict(out)

    def user_ltv(self) -> dict[str, Any]:
        """Buyers, their orders and value, and in full the rows of the three biggest buyers and
        of the lowest and highest buyer ids (orders, first and last order day)."""
        rows = {
            uid: {"orders": len(days), "first_order_date": min(days), "last_order_date": max(days)}
            for uid, days in self.order_days.items()
        }
        biggest = sorted(rows, key=lambda u: (-rows[u]["orders"], u))[:3]
        named = sorted({*biggest, min(rows), max(rows)}) if rows else []
        return {
            "buyers": len(rows),
            "orders": sum(r["orders"] for r in rows.values()),
            "ltv_usd": str(sum(self.ltv_usd.values(), ZERO)),
            "rows": {str(u): rows[u] for u in named},
        }

    def user_activity(self) -> dict[str, int]:
        """fact_user_activity: a row per user and day with events or a completed order."""
        spend = {(u, d) for u, days in self.order_days.items() for d in days}
        return {
            "rows": len(spend | set(self.activity)),
            "events": sum(f[0] for f in self.activity.values()),
            "sessions": sum(len(f[1]) for f in self.activity.values()),
            "purchases": sum(f[2] for f in self.activity.values()),
            "rows_with_orders_only": len(spend - set(self.activity)),
        }

    def sales_daily(self) -> dict[str, dict[str, Any]]:
        """day -> orders (completed), GMV and net revenue in USD."""
        money = self.money_usd
        return {
            day: {
                "orders": self.orders.get(day, 0),
                "gmv_usd": str(sum((money.get((day, s), ZERO) for s in GMV_STATUSES), ZERO)),
                "net_revenue_usd": str(money.get((day, "completed"), ZERO)),
            }
            for day in sorted(self.sales_days)
        }

    def customer_360(self, users: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """One row per user as of the last day with data: segments, churn risk, LTV."""
        as_of = date.fromisoformat(max(self.days))
        segments: Counter = Counter()
        churn = 0
        for uid, state in users.items():
            days = self.order_days.get(uid, [])
            ltv = self.ltv_usd.get(uid, ZERO)
            recency = (as_of - date.fromisoformat(max(days))).days if days else None
            churn += recency is None or recency > rules.CHURN_DAYS or state["status"] != "active"
            if not days:
                segments["prospect"] += 1
            elif ltv >= rules.VIP_LTV_USD:
                segments["vip"] += 1
            elif len(days) >= rules.LOYAL_ORDERS:
                segments["loyal"] += 1
            else:
                segments["occasional"] += 1
        return {
            "rows": len(users),
            "segments": dict(sorted(segments.items())),
            "churn_risk": churn,
            "orders": sum(len(self.order_days.get(u, [])) for u in users),
            "ltv_usd": str(sum((self.ltv_usd.get(u, ZERO) for u in users), ZERO)),
            "statuses": dict(sorted(Counter(s["status"] for s in users.values()).items())),
            "retention": self.retention(users, as_of),
        }

    def retention(self, users: dict[int, dict[str, Any]], as_of: date) -> dict[str, Any]:
        """Buyers per cohort (the month of their first completed order): retained when active
        (an event or a completed order) in the calendar month after, lapsed when not, unobserved
        while that month has not begun by `as_of`; the rate is retained / (retained + lapsed)."""
        active: dict[int, set[str]] = defaultdict(set)  # user -> months, as "YYYY-MM"
        for uid, day in self.activity:
            active[uid].add(day[:7])
        for uid, days in self.order_days.items():
            active[uid].update(day[:7] for day in days)
        cohorts: dict[str, Counter] = defaultdict(Counter)
        for uid in users:
            if not self.order_days.get(uid):
                continue
            first = date.fromisoformat(min(self.order_days[uid]))
            after = (first.replace(day=1) + timedelta(days=31)).replace(day=1)
            cohort = cohorts[first.isoformat()[:7]]
            cohort["buyers"] += 1
            if after > as_of:
                cohort["unobserved"] += 1
            else:
                cohort["retained" if after.isoformat()[:7] in active[uid] else "lapsed"] += 1
        out = {}
        for month, c in sorted(cohorts.items()):
            seen = c["retained"] + c["lapsed"]
            out[month] = {
                "buyers": c["buyers"],
                "retained": c["retained"],
                "lapsed": c["lapsed"],
                "unobserved": c["unobserved"],
                "retention_rate": fraction(c["retained"] / seen) if seen else None,
            }
        return out

    def dimensions(self, versions: dict[int, int]) -> dict[str, Any]:
        """dim_users (a row per version and the unknown member), dim_date (every day from the
        first to the last with data), dim_status (the reference statuses and their flags)."""
        first, last = (date.fromisoformat(d) for d in (min(self.days), max(self.days)))
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return {
            "dim_users": {"rows": sum(versions.values()) + 1, "current": len(versions)},
            "dim_date": {
                "rows": len(days),
                "first": str(first),
                "last": str(last),
                "weekend_days": sum(d.weekday() >= 5 for d in days),
            },
            "dim_status": {s: list(flags) for s, flags in sorted(rules.STATUSES.items())},
        }

    def as_dict(self, users: dict[int, dict[str, Any]]) -> dict[str, Any]:
        counts: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
        for (day, event_type), n in sorted(self.event_counts.items()):
            counts[day][event_type] = {
                "event_count": n,
                "unique_users": len(self.event_users[day, event_type]),
            }
        return {
            "net_revenue_by_currency": {k: str(v) for k, v in sorted(self.revenue.items())},
            "daily_active_users": {d: len(u) for d, u in sorted(self.dau.items())},
            "orders_per_day": dict(sorted(self.orders.items())),
            "daily_event_counts": dict(counts),
            "daily_revenue": self.daily_revenue(),
            "transactions_by_status": dict(sorted(self.statuses.items())),
            "user_ltv": self.user_ltv(),
            "fact_user_activity": self.user_activity(),
            "dim_country": sorted(self.countries),
            "sales_daily": self.sales_daily(),
            "customer_360": self.customer_360(users),
        }


@dataclass
class Shop:
    """The operational source's final state and history, as the generator wrote its upserts,
    and the IoT readings SILVER keeps per shipment."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    inventory: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    inventory_history: list[dict[str, Any]] = field(default_factory=list)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # product_id -> (since, unit price) of every version, in the order the source made them
    prices: dict[str, list[tuple[datetime, Decimal]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    temperatures: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def dim_product(self) -> dict[str, Any]:
        p = self.products
        dearest = sorted(p, key=lambda k: (-Decimal(p[k]["unit_price"]), k))[:1]
        named = sorted({min(p), max(p), *dearest})
        return {
            "rows": len(p),
            "categories": dict(sorted(Counter(r["category"] for r in p.values()).items())),
            "unit_price": str(sum((Decimal(r["unit_price"]) for r in p.values()), ZERO)),
            "rows_named": {
                k: {f: p[k][f] for f in ("name", "category", "unit_price")} for k in named
            },
        }

    def price_changed(self, row: dict[str, Any]) -> None:
        self.prices[row["product_id"]].append((_ts(row["updated_at"]), Decimal(row["unit_price"])))

    def price_at(self, product_id: str, ts: datetime) -> Decimal | None:
        """The unit price in force at `ts`: the last version made at or before it, or the first
        version for a purchase before any (None for a product the source never had)."""
        versions = sorted(self.prices.get(product_id, []))
        if not versions:
            return None
        in_force = [price for since, price in versions if since <= ts]
        return in_force[-1] if in_force else versions[0][1]

    def product_sales(self, purchases: list[tuple[datetime, str]]) -> tuple[dict, dict]:
        """(rows and units of product_sales_daily, the purchases' value at the price of their
        day in total and per day)."""
        units: Counter = Counter()
        value: dict[str, Decimal] = defaultdict(Decimal)
        for ts, pid in purchases:
            price = self.price_at(pid, ts)
            if price is None:
                continue
            day = ts.strftime("%Y-%m-%d")
            units[day, pid] += 1
            value[day] += price
        sales = {"rows": len(units), "units": sum(units.values())}
        history = {
            "list_value": str(sum(value.values(), ZERO)),
            "list_value_per_day": {d: str(v) for d, v in sorted(value.items())},
        }
        return sales, history

    def _hours(self, rows: dict[str, dict[str, Any]]) -> list[float]:
        """Delivery hours of the delivered shipments among `rows`."""
        return [
            (_ts(r["delivered_at"]) - _ts(r["shipped_at"])).total_seconds() / 3600.0
            for r in rows.values()
            if r["delivered_at"]
        ]

    def _excursions(self, sid: str) -> int:
        low, high = rules.COLD_CHAIN_C
        return sum(t < low or t > high for t in self.temperatures.get(sid, []))

    def fact_shipments(self) -> dict[str, Any]:
        s = self.shipments
        hours = self._hours(s)
        temperatures = [t for ts in self.temperatures.values() for t in ts]
        return {
            "rows": len(s),
            "statuses": dict(sorted(Counter(r["status"] for r in s.values()).items())),
            "shipping_cost": str(sum((Decimal(r["shipping_cost"]) for r in s.values()), ZERO)),
            "delivered": len(hours),
            "late": sum(h > rules.LATE_HOURS for h in hours),
            "delivery_hours": fraction(sum(hours)) if hours else None,
            "readings": len(temperatures),
            "max_temperature_c": max(temperatures, default=None),
            "temperature_excursions": sum(self._excursions(k) for k in s),
        }

    def delivery_performance(self) -> dict[str, dict[str, Any]]:
        out = {}
        for carrier in sorted({r["carrier"] for r in self.shipments.values()}):
            rows = {k: r for k, r in self.shipments.items() if r["carrier"] == carrier}
            hours = self._hours(rows)
            returned = sum(r["status"] == "returned" for r in rows.values())
            cost = sum((Decimal(r["shipping_cost"]) for r in rows.values()), ZERO)
            # avg of a decimal(10, 2) is kept to six places, then cast to the cent
            average = (cost / len(rows)).quantize(Decimal("0.000001"), ROUND_HALF_UP)
            out[carrier] = {
                "shipments": len(rows),
                "delivered": len(hours),
                "p50_delivery_hours": fraction(percentile(hours, 0.5)),
                "p90_delivery_hours": fraction(percentile(hours, 0.9)),
                "late_delivery_rate": fraction(
                    sum(h > rules.LATE_HOURS for h in hours) / len(hours) if hours else None
                ),
                "shipping_cost_per_order": str(average.quantize(CENT, ROUND_HALF_UP)),
                "temperature_excursions": sum(self._excursions(k) for k in rows),
                "returned": returned,
                "return_rate": fraction(returned / len(hours) if hours else None),
            }
        return out

    def inventory_health(self, units: Counter, days: int) -> tuple[dict, dict]:
        """(figures of the final stock, figures of the change history); units sold are the
        product's purchase events spread evenly over its warehouses (rounded down)."""
        per_product = Counter(pid for pid, _ in self.inventory)
        history: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row in self.inventory_history:
            history[row["product_id"], row["warehouse_id"]].append(row["quantity_on_hand"])
        rows = {}
        for (pid, wh), row in self.inventory.items():
            qty = row["quantity_on_hand"]
            sold = units.get(pid, 0) // per_product[pid]
            average = sum(history[pid, wh]) / len(history[pid, wh])
            rows[pid, wh] = {
                "quantity_on_hand": qty,
                "out_of_stock": qty == 0,
                "units_sold": sold,
                "days_on_hand": fraction(qty / (sold / days)) if sold else None,
                "turnover": fraction(sold / average) if average else None,
                "incidents": history[pid, wh].count(0),
            }
        ids = [pid for pid, _ in rows]
        named = sorted(k for k in rows if k[0] in (min(ids), max(ids)))
        stock = {
            "rows": len(rows),
            "out_of_stock": sum(r["out_of_stock"] for r in rows.values()),
            "quantity_on_hand": sum(r["quantity_on_hand"] for r in rows.values()),
            "units_sold": sum(r["units_sold"] for r in rows.values()),
            "rows_without_sales": sum(r["units_sold"] == 0 for r in rows.values()),
            "rows_named": {
                "/".join(k): {
                    f: rows[k][f]
                    for f in ("quantity_on_hand", "out_of_stock", "units_sold", "days_on_hand")
                }
                for k in named
            },
        }
        changes = {
            "out_of_stock_incidents": sum(r["incidents"] for r in rows.values()),
            "turnover_named": {"/".join(k): rows[k]["turnover"] for k in named},
        }
        return stock, changes

    def as_dict(self, gold: Gold, days: int) -> dict[str, Any]:
        stock, changes = self.inventory_health(gold.units, days)
        sales, prices = self.product_sales(gold.purchases)
        return {
            "product_sales_daily": sales,
            "product_price_history": prices,
            "dim_product": self.dim_product(),
            "fact_shipments": self.fact_shipments(),
            "delivery_performance": self.delivery_performance(),
            "inventory_health": stock,
            "inventory_history": changes,
        }


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S+00")


def figures(
    gold: Gold, shop: Shop, users: dict[int, dict[str, Any]], versions: dict[int, int]
) -> dict[str, Any]:
    """The manifest's `gold` section; `versions` are the SCD2 versions per user."""
    dims = gold.dimensions(versions)
    return gold.as_dict(users) | dims | shop.as_dict(gold, dims["dim_date"]["rows"])

"""GOLD builders on small hand-written cases."""

from __future__ import annotations

from collections import namedtuple
from datetime import date, datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

from spark_jobs.gold import dims, facts, marts

Version = namedtuple(
    "Version", "user_id email full_name country status signup_ts valid_from valid_to is_current"
)
Txn = namedtuple(
    "Txn", "transaction_id user_id amount currency status payment_method transaction_ts"
)
T0 = datetime(2026, 1, 1)
KEY = b"unit-test-pseudonymisation-key-0123456789"


_SCHEMA = (
    "user_id long, email string, full_name string, country string, status string, "
    "signup_ts timestamp, valid_from timestamp, valid_to timestamp, is_current boolean"
)


def _versions():
    return [
        Version(1, "a@x.io", "A", "DE", "active", T0, T0, datetime(2026, 11, 2, 12), False),
        Version(1, "a2@x.io", "A", "FR", "active", T0, datetime(2026, 11, 2, 12), None, True),
        Version(2, "b@x.io", "B", "US", "closed", T0, T0, None, True),
    ]


def _users(spark):
    return dims.build_dim_users(spark.createDataFrame(_versions(), _SCHEMA), KEY)


def test_dim_users_carries_the_keyed_pseudonym_and_no_personal_data(spark):
    """user_key is HMAC-SHA256 under the key of the id's decimal text (computed here with the
    standard library), the same for every version of a person and different under another
    key; no column the registry marks pii reaches dim_users; user_pii holds them by user_key."""
    import hashlib
    import hmac

    from lakehouse.config.registry import registry

    users = _users(spark)
    marked = set(registry().pii_columns()["users"])
    assert marked == {"email", "full_name"}
    assert not marked & set(users.columns)
    rows = users.where("user_id > 0").collect()
    for row in rows:
        expected = hmac.new(KEY, str(row.user_id).encode(), hashlib.sha256).hexdigest()
        assert row.user_key == expected
    assert len({r.user_key for r in rows if r.user_id == 1}) == 1
    assert users.where("user_id = -1").first().user_key is None
    other = dims.build_dim_users(
        users.sparkSession.createDataFrame(_versions(), _SCHEMA), KEY[::-1]
    )
    assert {r.user_key for r in other.collect()}.isdisjoint({r.user_key for r in rows})
    pii = dims.build_user_pii(users.sparkSession.createDataFrame(_versions(), _SCHEMA), KEY)
    by_key = {(r.user_key, r.valid_from): (r.email, r.full_name) for r in pii.collect()}
    assert by_key == {
        (next(r.user_key for r in rows if r.user_id == v.user_id), v.valid_from): (
            v.email,
            v.full_name,
        )
        for v in _versions()
    }


def test_a_short_pseudonymisation_key_is_refused():
    import pytest

    with pytest.raises(ValueError, match="at least 32"):
        dims.pseudonym(b"too-short")


def _txns(spark, rows):
    schema = (
        "transaction_id string, user_id long, amount decimal(18,2), currency string, "
        "status string, payment_method string, transaction_ts timestamp"
    )
    return spark.createDataFrame(rows, schema)


def test_transactions_join_the_user_version_valid_at_transaction_time(spark):
    users = _users(spark)
    txns = _txns(
        spark,
        [
            Txn(
                "t-before",
                1,
                Decimal("10.00"),
                "EUR",
                "completed",
                "card",
                datetime(2026, 11, 2, 9),
            ),
            Txn(
                "t-after", 1, Decimal("20.00"), "USD", "completed", "card", datetime(2026, 11, 3, 9)
            ),
        ],
    )
    fact = facts.build_fact_transactions(spark, txns, users)
    sk = {r.valid_from: r.user_sk for r in users.where("user_id = 1").collect()}
    got = {r.transaction_id: r.user_sk for r in fact.collect()}
    assert got == {"t-before": sk[T0], "t-after": sk[datetime(2026, 11, 2, 12)]}
    usd = {r.transaction_id: r.amount_usd for r in fact.collect()}
    assert usd == {"t-before": Decimal("10.80"), "t-after": Decimal("20.00")}


def test_a_user_not_arrived_yet_is_keyed_to_the_unknown_member_and_re_keyed_later(spark):
    """User 3 is in no snapshot yet: its transaction takes the unknown member (a row of
    dim_users, never current); once user 3 arrives the rebuild keys it to the real version. A
    transaction older than its user's first version takes that first version."""
    txns = _txns(
        spark,
        [
            Txn("t-late", 3, Decimal("5.00"), "USD", "completed", "card", datetime(2026, 11, 3, 9)),
            Txn("t-early", 2, Decimal("7.00"), "USD", "completed", "card", datetime(2025, 6, 1)),
        ],
    )
    users = _users(spark)
    unknown = users.where(f"user_sk = {dims.UNKNOWN_USER_SK}").collect()
    assert [(r.user_id, r.is_current, r.user_key) for r in unknown] == [
        (dims.UNKNOWN_USER_ID, False, None)
    ]
    sk = {r.user_id: r.user_sk for r in users.where("is_current").collect()}
    got = {
        r.transaction_id: r.user_sk
        for r in facts.build_fact_transactions(spark, txns, users).collect()
    }
    assert got == {"t-late": dims.UNKNOWN_USER_SK, "t-early": sk[2]}
    no_ltv = spark.createDataFrame(
        [],
        "user_id long, orders long, ltv_usd decimal(18,2), "
        "first_order_date date, last_order_date date",
    )
    no_activity = spark.createDataFrame([], "user_id long, activity_date date")
    customers = marts.build_customer_360(users, no_ltv, no_activity, date(2026, 11, 3)).collect()
    assert sorted(r.user_id for r in customers) == [1, 2]  # the unknown member is no customer

    arrived = Version(3, "c@x.io", "C", "US", "active", T0, datetime(2026, 11, 3), None, True)
    users = dims.build_dim_users(spark.createDataFrame([*_versions(), arrived], _SCHEMA), KEY)
    again = {
        r.transaction_id: r.user_sk
        for r in facts.build_fact_transactions(spark, txns, users).collect()
    }
    (member,) = users.where("user_id = 3").collect()
    assert again == {"t-late": member.user_sk, "t-early": sk[2]}


def test_daily_revenue_gross_refunds_net(spark):
    users = _users(spark)
    day = datetime(2026, 11, 3, 9)
    txns = _txns(
        spark,
        [
            Txn("a", 1, Decimal("100.00"), "USD", "completed", None, day),
            Txn("b", 1, Decimal("30.00"), "USD", "refunded", None, day),
            Txn("c", 2, Decimal("50.00"), "USD", "pending", None, day),
            Txn("d", 2, Decimal("70.00"), "USD", "failed", None, day),
        ],
    )
    fact = facts.build_fact_transactions(spark, txns, users)
    (row,) = marts.build_daily_revenue(fact).collect()
    assert (row.gross, row.refunds, row.net) == (
        Decimal("130.00"),
        Decimal("30.00"),
        Decimal("100.00"),
    )
    (sales,) = marts.build_sales_daily(fact).collect()
    assert (sales.orders, sales.gmv_usd, sales.aov_usd) == (1, Decimal("180.00"), Decimal("100.00"))


def test_customer_360_segments_and_churn_rules(spark):
    users = _users(spark)
    ltv = spark.createDataFrame(
        [(1, 4, Decimal("1500.00"), date(2026, 10, 1), date(2026, 11, 3))],
        "user_id long, orders long, ltv_usd decimal(18,2), first_order_date date, "
        "last_order_date date",
    )
    activity = spark.createDataFrame(
        [(1, date(2026, 10, 1)), (1, date(2026, 11, 3))], "user_id long, activity_date date"
    )
    out = marts.build_customer_360(users, ltv, activity, date(2026, 11, 3))
    expected = spark.createDataFrame(
        [
            (1, "FR", "active", "2026-01", 4, Decimal("1500.00"), 0, False, "vip", "2026-10", True),
            (2, "US", "closed", "2026-01", 0, Decimal("0.00"), None, True, "prospect", None, None),
        ],
        marts.CUSTOMER_360,
    )
    assert_df_equality(out, expected, ignore_nullable=True)


def test_customer_360_retention_is_activity_in_the_month_after_the_first_order(spark):
    """Retained: active (any day with events or a completed order) in the calendar month after
    the first order's month; lapsed when that month passed without activity (activity two
    months later does not count); unknown (null) while that month has not begun by the last
    day with data, and for a user with no order."""
    schema = (
        "user_id long, email string, full_name string, country string, status string, "
        "signup_ts timestamp, valid_from timestamp, valid_to timestamp, is_current boolean"
    )
    users = dims.build_dim_users(
        spark.createDataFrame(
            [Version(u, None, None, "DE", "active", T0, T0, None, True) for u in range(1, 6)],
            schema,
        ),
        KEY,
    )
    first_orders = {  # user -> first order day; user 5 never ordered
        1: date(2026, 9, 30),  # active Oct 1: retained
        2: date(2026, 9, 2),  # active only in November: lapsed
        3: date(2026, 10, 31),  # active Nov 1, the month after has begun: retained
        4: date(2026, 11, 1),  # December has not begun: unknown
    }
    ltv = spark.createDataFrame(
        [(u, 1, Decimal("10.00"), d, d) for u, d in first_orders.items()],
        "user_id long, orders long, ltv_usd decimal(18,2), first_order_date date, "
        "last_order_date date",
    )
    activity = spark.createDataFrame(
        [
            (1, date(2026, 9, 30)),
            (1, date(2026, 10, 1)),
            (2, date(2026, 9, 2)),
            (2, date(2026, 11, 2)),
            (3, date(2026, 11, 1)),
            (4, date(2026, 11, 2)),
            (5, date(2026, 11, 2)),
        ],
        "user_id long, activity_date date",
    )
    out = marts.build_customer_360(users, ltv, activity, date(2026, 11, 2))
    got = {r.user_id: (r.first_order_month, r.retained) for r in out.collect()}
    assert got == {
        1: ("2026-09", True),
        2: ("2026-09", False),
        3: ("2026-10", True),
        4: ("2026-11", None),
        5: (None, None),
    }


def test_delivery_performance_return_rate_is_returned_over_delivered(spark):
    rows = [  # carrier, status, delivery hours
        ("UPS", "delivered", 20.0),
        ("UPS", "returned", 30.0),
        ("UPS", "delivered", 50.0),
        ("UPS", "shipped", None),
        ("DHL", "shipped", None),
    ]
    fact = spark.createDataFrame(
        [(f"s{i}", c, st, h, Decimal("5.00"), 0) for i, (c, st, h) in enumerate(rows)],
        "shipment_id string, carrier string, status string, delivery_hours double, "
        "shipping_cost decimal(10,2), temperature_excursions long",
    )
    got = {
        r.carrier: (r.shipments, r.delivered, r.returned, r.return_rate, r.late_delivery_rate)
        for r in marts.build_delivery_performance(fact).collect()
    }
    assert got == {"DHL": (1, 0, 0, None, None), "UPS": (4, 3, 1, 1 / 3, 1 / 3)}


def test_dim_date_covers_the_range(spark):
    cal = dims.build_dim_date(spark, date(2026, 10, 30), date(2026, 11, 2)).collect()
    assert [r.date_key for r in cal] == [20261030, 20261031, 20261101, 20261102]
    assert [r.is_weekend for r in cal] == [False, True, True, False]  # Sat 31 Oct, Sun 1 Nov


def test_purchases_are_valued_at_the_price_in_force_at_their_time(spark):
    """A product's SCD2 versions (10.00 from 09:00, 12.50 from 15:00 the same day): a purchase
    before the first version takes the first price, one at 15:00 exactly the new one; a product
    with no version at all is left out; dim_product holds the current version only."""
    versions = spark.createDataFrame(
        [
            (
                "p1",
                "P",
                "toys",
                Decimal("10.00"),
                datetime(2026, 1, 1, 9),
                datetime(2026, 1, 1, 15),
                False,
            ),
            ("p1", "P", "toys", Decimal("12.50"), datetime(2026, 1, 1, 15), None, True),
            ("p2", "Q", "food", Decimal("3.00"), datetime(2026, 1, 2, 0), None, True),
        ],
        "product_id string, name string, category string, unit_price decimal(18,2), "
        "valid_from timestamp, valid_to timestamp, is_current boolean",
    ).withColumn("updated_at", F.col("valid_from"))
    purchases = [  # (when, product): the price each one must take, written out by hand
        (datetime(2026, 1, 1, 8), "p1"),  # before the first version: 10.00
        (datetime(2026, 1, 1, 14, 59), "p1"),  # 10.00
        (datetime(2026, 1, 1, 15), "p1"),  # 12.50
        (datetime(2026, 1, 2, 1), "p1"),  # 12.50
        (datetime(2026, 1, 2, 1), "p2"),  # 3.00
        (datetime(2026, 1, 2, 2), "p9"),  # never seen: left out
    ]
    events = spark.createDataFrame(
        [("purchase", ts.date(), ts, pid) for ts, pid in purchases]
        + [("product_view", date(2026, 1, 1), datetime(2026, 1, 1, 10), "p1")],
        "event_type string, event_date date, event_ts timestamp, product_id string",
    )
    got = {
        (str(r.sales_date), r.product_id): (r.units, r.list_value, r.date_key)
        for r in marts.build_product_sales_daily(versions, events).collect()
    }
    assert got == {
        ("2026-01-01", "p1"): (3, Decimal("32.50"), 20260101),
        ("2026-01-02", "p1"): (1, Decimal("12.50"), 20260102),
        ("2026-01-02", "p2"): (1, Decimal("3.00"), 20260102),
    }
    current = dims.build_dim_product(versions).collect()
    assert [(r.product_id, r.unit_price) for r in current] == [
        ("p1", Decimal("12.50")),
        ("p2", Decimal("3.00")),
    ]


def test_a_run_without_purchases_publishes_an_empty_product_sales_table(spark):
    """product_sales_daily is rightly empty when no purchase event names a known product (a run
    on files without purchases): its row count is reported, not failed; an empty table of
    any other kind still fails the build."""
    from spark_jobs.silver_to_gold import quality_checks

    def frame(rows, schema):
        return spark.createDataFrame(rows, schema)

    tables = {
        "dim_users": frame([(1, 10)], "user_sk long, user_id long"),
        "dim_date": frame([(20260101,)], "date_key int"),
        "dim_product": frame([("p1",)], "product_id string"),
        "fact_events": frame(
            [(10, None, 20260101)], "user_id long, product_id string, date_key int"
        ),
        "fact_transactions": frame([(1, 20260101)], "user_sk long, date_key int"),
        "fact_user_activity": frame([(20260101,)], "date_key int"),
        "daily_revenue": frame(
            [(Decimal("1.00"), Decimal("1.00"))], "net decimal(18,2), net_usd decimal(18,2)"
        ),
        "product_sales_daily": frame([], "date_key int, product_id string"),
    }
    checks = {c["check"]: c for c in quality_checks(tables)}
    assert checks["rows>0:product_sales_daily"] == {
        "check": "rows>0:product_sales_daily",
        "observed": 0,
        "passed": True,
        "blocking": False,
    }
    assert all(c["passed"] for c in checks.values())
    tables["dim_product"] = tables["dim_product"].limit(0)
    failed = [c["check"] for c in quality_checks(tables) if not c["passed"]]
    assert failed == ["rows>0:dim_product"]

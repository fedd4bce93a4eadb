"""GOLD marts, each one pure function with an explicit output schema.

Rules (also in the README):
- revenue: `gross` = completed + refunded amounts, `refunds` = refunded amounts, `net` =
  gross - refunds (= completed); per currency and in USD at the fixed reference rates.
- GMV = amounts of completed, pending and refunded transactions (USD); orders = completed
  transactions; AOV = net revenue / orders.
- customer_360, as of the last day with data: recency = days since the last completed order;
  churn risk when recency > 30 days or the user is not active; segment: `prospect` (no
  order), `vip` (LTV >= 1000 USD), `loyal` (>= 3 orders), else `occasional`. Retention: a
  buyer's cohort is the month of the first completed order; `retained` is whether the user was
  active (an event or a completed order) in the calendar month after it, null for a user with no
  order or whose month after has not begun by the last day with data.
- delivery: late when delivery takes more than 48 hours.
- product sales: a purchase event is valued at the unit price of the product's version in force
  at the event's time (SILVER keeps products as SCD2); a purchase before the product's first
  known version takes that first version's price. Purchases of products never seen are left
  out (reported by the late_arriving:fact_events.product_id figure).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from spark_jobs.columns import count_if
from spark_jobs.gold.dims import conform_to, date_key

MONEY = DecimalType(18, 2)
VIP_LTV_USD, LOYAL_ORDERS, CHURN_DAYS, LATE_HOURS = 1000, 3, 30, 48

# Column order is the warehouse contract: Redshift's Parquet COPY loads by position.
DAILY_EVENT_COUNTS = StructType(
    [
        StructField("event_date", DateType(), False),
        StructField("event_type", StringType(), False),
        StructField("event_count", LongType(), False),
        StructField("unique_users", LongType(), False),
    ]
)
DAILY_REVENUE = StructType(
    [
        StructField("date_key", IntegerType(), False),
        StructField("revenue_date", DateType(), False),
        StructField("currency", StringType(), False),
        StructField("gross", MONEY, False),
        StructField("refunds", MONEY, False),
        StructField("net", MONEY, False),
        StructField("gross_usd", MONEY, False),
        StructField("refunds_usd", MONEY, False),
        StructField("net_usd", MONEY, False),
    ]
)
DAILY_ACTIVE_USERS = StructType(
    [
        StructField("date_key", IntegerType(), False),
        StructField("activity_date", DateType(), False),
        StructField("active_users", LongType(), False),
    ]
)
USER_LTV = StructType(
    [
        StructField("user_id", LongType(), False),
        StructField("orders", LongType(), False),
        StructField("ltv_usd", MONEY, False),
        StructField("first_order_date", DateType(), True),
        StructField("last_order_date", DateType(), True),
    ]
)
SALES_DAILY = StructType(
    [
        StructField("date_key", IntegerType(), False),
        StructField("sales_date", DateType(), False),
        StructField("orders", LongType(), False),
        StructField("gmv_usd", MONEY, False),
        StructField("net_revenue_usd", MONEY, False),
        StructField("aov_usd", MONEY, True),
    ]
)
CUSTOMER_360 = StructType(
    [
        StructField("user_id", LongType(), False),
        StructField("country", StringType(), True),
        StructField("status", StringType(), True),
        StructField("cohort_month", StringType(), True),
        StructField("orders", LongType(), False),
        StructField("ltv_usd", MONEY, False),
        StructField("recency_days", IntegerType(), True),
        StructField("churn_risk", BooleanType(), False),
        StructField("segment", StringType(), False),
        StructField("first_order_month", StringType(), True),
        StructField("retained", BooleanType(), True),
    ]
)
INVENTORY_HEALTH = StructType(
    [
        StructField("product_id", StringType(), False),
        StructField("warehouse_id", StringType(), False),
        StructField("quantity_on_hand", LongType(), False),
        StructField("out_of_stock", BooleanType(), False),
        StructField("out_of_stock_incidents", LongType(), False),
        StructField("units_sold", LongType(), False),
        StructField("turnover", DoubleType(), True),
        StructField("days_on_hand", DoubleType(), True),
    ]
)
PRODUCT_SALES_DAILY = StructType(
    [
        StructField("date_key", IntegerType(), False),
        StructField("sales_date", DateType(), False),
        StructField("product_id", StringType(), False),
        StructField("units", LongType(), False),
        StructField("list_value", MONEY, False),
    ]
)
DELIVERY_PERFORMANCE = StructType(
    [
        StructField("carrier", StringType(), False),
        StructField("shipments", LongType(), False),
        StructField("delivered", LongType(), False),
        StructField("p50_delivery_hours", DoubleType(), True),
        StructField("p90_delivery_hours", DoubleType(), True),
        StructField("late_delivery_rate", DoubleType(), True),
        StructField("shipping_cost_per_order", MONEY, True),
        StructField("temperature_excursions", LongType(), False),
        StructField("returned", LongType(), False),
        StructField("return_rate", DoubleType(), True),
    ]
)


def build_daily_event_counts(silver_events: DataFrame) -> DataFrame:
    """Events and distinct users per day and event type."""
    agg = silver_events.groupBy("event_date", "event_type").agg(
        F.count(F.lit(1)).alias("event_count"),
        F.countDistinct("user_id").alias("unique_users"),
    )
    return conform_to(agg, DAILY_EVENT_COUNTS).orderBy("event_date", "event_type")


def _money_sum(condition: str, column: str) -> F.Column:
    return F.coalesce(F.sum(F.when(F.expr(condition), F.col(column))), F.lit(0)).cast(MONEY)


def build_daily_revenue(fact_transactions: DataFrame) -> DataFrame:
    agg = fact_transactions.groupBy(
        F.to_date("transaction_ts").alias("revenue_date"), "currency"
    ).agg(
        _money_sum("status IN ('completed', 'refunded')", "amount").alias("gross"),
        _money_sum("status = 'refunded'", "amount").alias("refunds"),
        _money_sum("status IN ('completed', 'refunded')", "amount_usd").alias("gross_usd"),
        _money_sum("status = 'refunded'", "amount_usd").alias("refunds_usd"),
    )
    out = (
        agg.withColumn("net", (F.col("gross") - F.col("refunds")).cast(MONEY))
        .withColumn("net_usd", (F.col("gross_usd") - F.col("refunds_usd")).cast(MONEY))
        .withColumn("date_key", date_key("revenue_date"))
    )
    return conform_to(out, DAILY_REVENUE).orderBy("revenue_date", "currency")


def build_daily_active_users(fact_events: DataFrame) -> DataFrame:
    out = fact_events.groupBy(F.col("event_date").alias("activity_date")).agg(
        F.countDistinct("user_id").alias("active_users")
    )
    out = out.withColumn("date_key", date_key("activity_date"))
    return conform_to(out, DAILY_ACTIVE_USERS).orderBy("activity_date")


def build_user_ltv(fact_transactions: DataFrame) -> DataFrame:
    done = fact_transactions.where("status = 'completed'")
    out = done.groupBy("user_id").agg(
        F.count(F.lit(1)).alias("orders"),
        F.sum("amount_usd").alias("ltv_usd"),
        F.min(F.to_date("transaction_ts")).alias("first_order_date"),
        F.max(F.to_date("transaction_ts")).alias("last_order_date"),
    )
    return conform_to(out, USER_LTV).orderBy("user_id")


def build_sales_daily(fact_transactions: DataFrame) -> DataFrame:
    agg = fact_transactions.groupBy(F.to_date("transaction_ts").alias("sales_date")).agg(
        count_if(F.col("status") == "completed").alias("orders"),
        _money_sum("status IN ('completed', 'pending', 'refunded')", "amount_usd").alias("gmv_usd"),
        _money_sum("status = 'completed'", "amount_usd").alias("net_revenue_usd"),
    )
    out = agg.withColumn(
        "aov_usd",
        F.when(F.col("orders") > 0, F.col("net_revenue_usd") / F.col("orders")).cast(MONEY),
    ).withColumn("date_key", date_key("sales_date"))
    return conform_to(out, SALES_DAILY).orderBy("sales_date")


def build_customer_360(
    dim_users: DataFrame, user_ltv: DataFrame, user_activity: DataFrame, as_of
) -> DataFrame:
    """One row per user (current version) with LTV, recency, cohort, churn risk, segment and
    retention (active in the month after the first order's; `user_activity` is
    fact_user_activity: a row per user and day with events or a completed order)."""
    current = dim_users.where("is_current").select(
        "user_id",
        "country",
        "status",
        F.date_format("signup_ts", "yyyy-MM").alias("cohort_month"),
    )
    month_after = F.add_months(F.trunc("first_order_date", "month"), 1)
    active_after = (
        user_ltv.select("user_id", month_after.alias("month"))
        .join(
            user_activity.select("user_id", F.trunc("activity_date", "month").alias("month")),
            ["user_id", "month"],
            "left_semi",
        )
        .select("user_id", F.lit(True).alias("active_after"))
    )
    joined = current.join(user_ltv, "user_id", "left").join(active_after, "user_id", "left")
    recency = F.datediff(F.lit(as_of).cast("date"), F.col("last_order_date"))
    orders = F.coalesce(F.col("orders"), F.lit(0))
    ltv = F.coalesce(F.col("ltv_usd"), F.lit(0)).cast(MONEY)
    out = joined.select(
        "user_id",
        "country",
        "status",
        "cohort_month",
        orders.alias("orders"),
        ltv.alias("ltv_usd"),
        recency.alias("recency_days"),
        (F.coalesce(recency > CHURN_DAYS, F.lit(True)) | (F.col("status") != "active")).alias(
            "churn_risk"
        ),
        F.when(orders == 0, "prospect")
        .when(ltv >= VIP_LTV_USD, "vip")
        .when(orders >= LOYAL_ORDERS, "loyal")
        .otherwise("occasional")
        .alias("segment"),
        F.date_format("first_order_date", "yyyy-MM").alias("first_order_month"),
        F.when(
            month_after <= F.lit(as_of).cast("date"), F.coalesce("active_after", F.lit(False))
        ).alias("retained"),
    )
    return conform_to(out, CUSTOMER_360).orderBy("user_id")


def build_inventory_health(silver_inventory: DataFrame, fact_events: DataFrame, days: int):
    """Stock per product and warehouse: out-of-stock incidents over the stock-count history
    (SILVER keeps every count), units sold (purchase events, spread evenly over warehouses),
    turnover and days on hand."""
    from spark_jobs.gold.facts import latest

    now = latest(silver_inventory, ["product_id", "warehouse_id"], "updated_at")
    incidents = silver_inventory.groupBy("product_id", "warehouse_id").agg(
        count_if(F.col("quantity_on_hand") == 0).alias("out_of_stock_incidents"),
        F.avg("quantity_on_hand").alias("avg_qty"),
    )
    warehouses = now.groupBy("product_id").agg(F.count(F.lit(1)).alias("n_wh"))
    sold = (
        fact_events.where("event_type = 'purchase' AND product_id IS NOT NULL")
        .groupBy("product_id")
        .agg(F.count(F.lit(1)).alias("units"))
    )
    out = (
        now.join(incidents, ["product_id", "warehouse_id"])
        .join(warehouses, "product_id")
        .join(sold, "product_id", "left")
        .withColumn("units_sold", F.floor(F.coalesce("units", F.lit(0)) / F.col("n_wh")))
        .withColumn("out_of_stock", F.col("quantity_on_hand") == 0)
        .withColumn(
            "turnover", F.when(F.col("avg_qty") > 0, F.col("units_sold") / F.col("avg_qty"))
        )
        .withColumn(
            "days_on_hand",
            F.when(
                F.col("units_sold") > 0, F.col("quantity_on_hand") / (F.col("units_sold") / days)
            ),
        )
    )
    return conform_to(out, INVENTORY_HEALTH).orderBy("product_id", "warehouse_id")


def build_product_sales_daily(silver_products: DataFrame, fact_events: DataFrame) -> DataFrame:
    """Units and their value at the price of their day, per day and product (module rules)."""
    versions = silver_products.select("product_id", "unit_price", "valid_from", "valid_to")
    first = versions.groupBy("product_id").agg(F.min("valid_from").alias("first_from"))
    purchases = (
        fact_events.where("event_type = 'purchase' AND product_id IS NOT NULL")
        .select("event_date", "event_ts", "product_id")
        .join(first, "product_id")
        .withColumn("_at", F.greatest("event_ts", "first_from"))
    )
    in_force = (F.col("_at") >= F.col("valid_from")) & (
        F.col("valid_to").isNull() | (F.col("_at") < F.col("valid_to"))
    )
    priced = purchases.join(versions, ["product_id"]).where(in_force)
    out = priced.groupBy(F.col("event_date").alias("sales_date"), "product_id").agg(
        F.count(F.lit(1)).alias("units"), F.sum("unit_price").cast(MONEY).alias("list_value")
    )
    out = out.withColumn("date_key", date_key("sales_date"))
    return conform_to(out, PRODUCT_SALES_DAILY).orderBy("sales_date", "product_id")


def build_delivery_performance(fact_shipments: DataFrame) -> DataFrame:
    """Per carrier; the return rate is returned shipments over delivered ones (a shipment is
    returned after its delivery, so it counts in both)."""
    delivered = F.col("delivery_hours").isNotNull()
    returned = count_if(F.col("status") == "returned")
    out = fact_shipments.groupBy("carrier").agg(
        F.count(F.lit(1)).alias("shipments"),
        count_if(delivered).alias("delivered"),
        F.percentile("delivery_hours", 0.5).alias("p50_delivery_hours"),
        F.percentile("delivery_hours", 0.9).alias("p90_delivery_hours"),
        (count_if(F.col("delivery_hours") > LATE_HOURS) / F.sum(F.when(delivered, 1))).alias(
            "late_delivery_rate"
        ),
        F.avg("shipping_cost").alias("shipping_cost_per_order"),
        F.sum("temperature_excursions").alias("temperature_excursions"),
        returned.alias("returned"),
        (returned / F.sum(F.when(delivered, 1))).alias("return_rate"),
    )
    return conform_to(out.where("carrier IS NOT NULL"), DELIVERY_PERFORMANCE).orderBy("carrier")

"""SILVER -> GOLD job (Glue-compatible): build every dimension, fact and mart with its named
builder, check gold-level data quality, then publish each table as Delta (full deterministic
refresh: overwrite, one sorted file) and as a Parquet export in warehouse column order.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.checks import DataQualityFailed
from spark_jobs.contract import FIGURES_FILE
from spark_jobs.gold import dims, facts, marts
from spark_jobs.runtime import (
    finish_job,
    is_delta,
    secret_text,
    start_job,
    write_metrics,
    write_text,
)

SCHEMAS = {
    "dim_users": dims.DIM_USERS,
    "user_pii": dims.USER_PII,
    "dim_date": dims.DIM_DATE,
    "dim_country": dims.DIM_COUNTRY,
    "dim_status": dims.DIM_STATUS,
    "dim_product": dims.DIM_PRODUCT,
    "fact_events": facts.FACT_EVENTS,
    "fact_transactions": facts.FACT_TRANSACTIONS,
    "fact_user_activity": facts.FACT_USER_ACTIVITY,
    "fact_shipments": facts.FACT_SHIPMENTS,
    "daily_event_counts": marts.DAILY_EVENT_COUNTS,
    "daily_revenue": marts.DAILY_REVENUE,
    "daily_active_users": marts.DAILY_ACTIVE_USERS,
    "user_ltv": marts.USER_LTV,
    "sales_daily": marts.SALES_DAILY,
    "customer_360": marts.CUSTOMER_360,
    "inventory_health": marts.INVENTORY_HEALTH,
    "delivery_performance": marts.DELIVERY_PERFORMANCE,
    "product_sales_daily": marts.PRODUCT_SALES_DAILY,
}


# Tables that are rightly empty when their input has no rows of a kind: no purchase event of a
# known product (e.g. a run on files without purchases). Their row count is reported, not failed.
MAY_BE_EMPTY = frozenset({"product_sales_daily"})


class MissingInputs(RuntimeError):
    """A silver table gold is built from does not exist yet (a rerun cannot create it)."""


def build_all(spark: SparkSession, silver_root: str, pii_key: bytes) -> dict[str, DataFrame]:
    """Every gold table as a DataFrame (lazy); tables whose source is absent are left out (the
    operational ones without an operational DB). `pii_key` keys the pseudonymous user_key
    (dims.pseudonym)."""

    def load(path: str) -> DataFrame | None:
        return spark.read.format("delta").load(path) if is_delta(spark, path) else None

    events = load(f"{silver_root}/events")
    transactions = load(f"{silver_root}/transactions")
    users = load(f"{silver_root}/users")
    tracking = load(f"{silver_root}/shipment_tracking")
    missing = [
        name
        for name, df in (("events", events), ("transactions", transactions), ("users", users))
        if df is None
    ]
    if missing:
        raise MissingInputs(
            f"silver {', '.join(missing)} missing under {silver_root}: gold needs events, "
            "transactions and users (ingest those datasets and run bronze_to_silver first)"
        )
    out: dict[str, DataFrame] = {}
    out["dim_users"] = dims.build_dim_users(users, pii_key).cache()
    out["user_pii"] = dims.build_user_pii(users, pii_key)
    out["fact_events"] = facts.build_fact_events(events).cache()
    out["fact_transactions"] = facts.build_fact_transactions(
        spark, transactions, out["dim_users"]
    ).cache()
    bounds = (
        out["fact_events"]
        .select(F.col("event_date").alias("d"))
        .unionByName(out["fact_transactions"].select(F.to_date("transaction_ts").alias("d")))
        .agg(F.min("d"), F.max("d"))
        .collect()[0]
    )
    first, last = bounds[0], bounds[1]
    out["dim_date"] = dims.build_dim_date(spark, first, last)
    out["dim_country"] = dims.build_dim_country(
        spark, users.select("country").unionByName(events.select("country"))
    )
    out["dim_status"] = dims.build_dim_status(spark)
    out["fact_user_activity"] = facts.build_fact_user_activity(
        out["fact_events"], out["fact_transactions"]
    )
    out["daily_event_counts"] = marts.build_daily_event_counts(events)
    out["daily_revenue"] = marts.build_daily_revenue(out["fact_transactions"])
    out["daily_active_users"] = marts.build_daily_active_users(out["fact_events"])
    out["user_ltv"] = marts.build_user_ltv(out["fact_transactions"]).cache()
    out["sales_daily"] = marts.build_sales_daily(out["fact_transactions"])
    out["customer_360"] = marts.build_customer_360(
        out["dim_users"], out["user_ltv"], out["fact_user_activity"], last
    )
    products = load(f"{silver_root}/products")
    if products is not None:
        out["dim_product"] = dims.build_dim_product(products)
        out["product_sales_daily"] = marts.build_product_sales_daily(products, out["fact_events"])
    inventory = load(f"{silver_root}/inventory")
    if inventory is not None:
        days = (last - first).days + 1
        out["inventory_health"] = marts.build_inventory_health(inventory, out["fact_events"], days)
    shipments = load(f"{silver_root}/shipments")
    if shipments is not None and tracking is not None:
        out["fact_shipments"] = facts.build_fact_shipments(shipments, tracking)
        out["delivery_performance"] = marts.build_delivery_performance(out["fact_shipments"])
    return out


def quality_checks(tables: dict[str, DataFrame]) -> list[dict]:
    """Row counts > 0 (reported only for MAY_BE_EMPTY), referential integrity fact -> dim, no
    negative revenue; facts whose user has not arrived yet counted (reported, not failing)."""
    checks: list[dict] = []

    def check(name: str, observed: int, passed: Callable[[int], bool]) -> None:
        checks.append({"check": name, "observed": observed, "passed": bool(passed(observed))})

    def report(name: str, observed: int) -> None:
        """A figure shown with the checks that never fails the run (`blocking` false)."""
        checks.append({"check": name, "observed": observed, "passed": True, "blocking": False})

    for name, df in tables.items():
        if name in MAY_BE_EMPTY:
            report(f"rows>0:{name}", df.count())
        else:
            check(f"rows>0:{name}", df.count(), lambda n: n > 0)
    txn, users = tables["fact_transactions"], tables["dim_users"]
    # A fact keyed to the unknown member is a late-arriving user: reported, and re-keyed by the
    # next build once the user is in SILVER. Any other key missing from dim_users fails.
    check(
        "fk:fact_transactions.user_sk",
        txn.where("user_sk IS NULL").count() + txn.join(users, "user_sk", "left_anti").count(),
        lambda n: n == 0,
    )
    report(
        "late_arriving:fact_transactions.user_sk",
        txn.where(F.col("user_sk") == dims.UNKNOWN_USER_SK).count(),
    )
    known = users.where(F.col("user_sk") != dims.UNKNOWN_USER_SK).select("user_id").distinct()
    report(
        "late_arriving:fact_events.user_id",
        tables["fact_events"].join(known, "user_id", "left_anti").count(),
    )
    if "dim_product" in tables:
        products = tables["dim_product"].select("product_id")
        report(
            "late_arriving:fact_events.product_id",
            tables["fact_events"]
            .where(F.col("product_id").isNotNull())
            .join(products, "product_id", "left_anti")
            .count(),
        )
    for fact in ("fact_events", "fact_transactions", "fact_user_activity"):
        missing = tables[fact].join(tables["dim_date"], "date_key", "left_anti").count()
        check(f"fk:{fact}.date_key", missing, lambda n: n == 0)
    negative = tables["daily_revenue"].where("net < 0 OR net_usd < 0").count()
    check("no_negative_revenue:daily_revenue", negative, lambda n: n == 0)
    return checks


def figures(df: DataFrame, checks: dict) -> dict:
    """The figures the warehouse load validates against (lakehouse.warehouse.sql.TableDef
    .figure_names): row count, exact sums as text, distinct and unknown-member counts, in one
    aggregate, so no Airflow worker reads an export to compute them."""
    exprs = [F.count(F.lit(1)).alias("rows")]
    exprs += [F.sum(c).cast("string").alias(f"sum:{c}") for c in checks["sums"]]
    exprs += [F.countDistinct(c).alias(f"distinct:{c}") for c in checks["distinct"]]
    exprs += [
        F.count(F.when(F.col(c) == key, 1)).alias(f"unknown:{c}")
        for c, key in checks["unknown_members"].items()
    ]
    return df.agg(*exprs).first().asDict()


def publish(df: DataFrame, gold_root: str, export_root: str, name: str, checks: dict) -> dict:
    """Delta (overwrite) and the Parquet export, both one file in the builder's sort order,
    and the export's figures next to it; returns the figures."""
    single = df.coalesce(1).cache()
    single.write.format("delta").mode("overwrite").option("overwriteSchema", True).save(
        f"{gold_root}/{name}"
    )
    single.write.mode("overwrite").parquet(f"{export_root}/{name}")
    out = figures(single, checks)
    write_text(single.sparkSession, f"{export_root}/{name}/{FIGURES_FILE}", json.dumps(out))
    single.unpersist()
    return out


def largest_shuffle_bytes(spark: SparkSession) -> int | None:
    """The largest shuffle write of any stage, from the driver's monitoring API (if enabled)."""
    url = spark.sparkContext.uiWebUrl
    if not url:
        return None
    app = spark.sparkContext.applicationId
    try:
        with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/stages", timeout=5) as r:
            stages = json.loads(r.read())
    except OSError:
        return None
    return max((s.get("shuffleWriteBytes", 0) for s in stages), default=0)


# pii_key: a reference to the pseudonymisation key (env:<VAR> or a Secrets Manager ARN).
ARGS = [
    "silver_root",
    "gold_root",
    "export_root",
    "figures",
    "metrics_path",
    "pii_key",
]


def run(spark: SparkSession, args: dict[str, str]) -> dict:
    """Every GOLD table built, checked and published (nothing published when a check fails):
    writes the stage's metrics and returns them; raises when an input or a check failed."""
    started = time.time()
    try:
        pii_key = secret_text(args["pii_key"], "pseudonymisation key").encode()
        tables = build_all(spark, args["silver_root"], pii_key)
    except MissingInputs as exc:
        # Recorded as a failed check, so the task fails without retries (see dag_factory).
        check = {"check": "silver_inputs_present", "passed": False, "observed": str(exc)}
        write_metrics(spark, args["metrics_path"], {"stage": "silver_to_gold", "dq": [check]})
        raise
    checks = quality_checks(tables)
    failed = [c for c in checks if not c["passed"]]
    if not failed:
        spec = json.loads(args["figures"])
        for name, df in tables.items():
            publish(df, args["gold_root"], args["export_root"], name, spec[name])
    metrics = {
        "stage": "silver_to_gold",
        "tables": {
            name: next(c["observed"] for c in checks if c["check"] == f"rows>0:{name}")
            for name in tables
        },
        "dq": checks,
        "largest_shuffle_write_bytes": largest_shuffle_bytes(spark),
        "started_at": round(started, 3),
        "duration_s": round(time.time() - started, 3),
    }
    write_metrics(spark, args["metrics_path"], metrics)
    if failed:
        raise DataQualityFailed(failed)  # nothing was published
    return metrics


def main() -> None:
    ctx = start_job("silver_to_gold", ARGS)
    run(ctx.spark, ctx.args)
    finish_job(ctx)


if __name__ == "__main__":
    main()

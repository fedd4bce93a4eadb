"""The single-machine peer of the benchmark: the pipeline's SILVER and GOLD logic as DuckDB SQL
over the same BRONZE files, so the Spark jobs' times have an honest yardstick on one machine.

SILVER follows spark_jobs/silver/transforms.py (conform drifted names, standardise nulls, type,
quarantine with reason codes, latest-wins per key, SCD2 for users) over every bronze file at
once; GOLD follows docs/pipeline.md for all 17 tables, the operational ones from the source's
change history (`load_operational`). Outputs are Parquet.
Benchmark-only code: the pipeline never imports it. `gold_figures` gives the figures the
generator's manifest.json records, so the peer is checked against the same truth as Spark.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

import duckdb

from seed_data.gold_figures import gold_figures as read_gold_figures
from seed_data.rules import COLD_CHAIN_C, LATE_HOURS, STATUSES, USD_RATES

# The peer's own rules, written out here from the documented contract (docs/datasets.md) and
# GOLD's reference data (docs/pipeline.md; seed_data/rules.py, shared with the manifest), never
# imported from spark_jobs: a wrong constant in the jobs then shows as the peer disagreeing
# with Spark and the manifest, rather than being wrong in both.
NULL_SPELLINGS = ("", "null", "NULL", "None", "N/A", "-")
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
REASONS = (  # in the order a row's reasons are reported
    "missing_required_key",
    "invalid_timestamp",
    "invalid_number",
    "unknown_enum",
    "negative_amount",
    "invalid_currency",
    "malformed_email",
)
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
GOLD_TABLES = (
    "dim_users",
    "user_pii",
    "fact_events",
    "fact_transactions",
    "dim_date",
    "dim_country",
    "dim_status",
    "fact_user_activity",
    "daily_event_counts",
    "daily_revenue",
    "daily_active_users",
    "user_ltv",
    "sales_daily",
    "customer_360",
    "dim_product",
    "fact_shipments",
    "inventory_health",
    "delivery_performance",
    "product_sales_daily",
)
# The operational source's tables as it declares them (seed_data/operational.py's DDL).
OPERATIONAL = {
    "products": {
        "product_id": "VARCHAR",
        "name": "VARCHAR",
        "category": "VARCHAR",
        "unit_price": "DECIMAL(12, 2)",
        "updated_at": "TIMESTAMPTZ",
    },
    "inventory": {
        "product_id": "VARCHAR",
        "warehouse_id": "VARCHAR",
        "quantity_on_hand": "INTEGER",
        "updated_at": "TIMESTAMPTZ",
    },
    "shipments": {
        "shipment_id": "VARCHAR",
        "transaction_id": "VARCHAR",
        "carrier": "VARCHAR",
        "shipped_at": "TIMESTAMPTZ",
        "delivered_at": "TIMESTAMPTZ",
        "status": "VARCHAR",
        "shipping_cost": "DECIMAL(10, 2)",
        "created_at": "TIMESTAMPTZ",
        "updated_at": "TIMESTAMPTZ",
    },
}


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def bronze_files(bronze_dir: Path, dataset: str) -> list[tuple[str, str | None, Path]]:
    """(format, delimiter, path) of a dataset's bronze files, from the ingestion log."""
    out = set()
    for record_path in (bronze_dir / "_ingestion_log" / dataset).rglob("*"):
        if record_path.is_file() and not record_path.name.startswith("."):
            record = json.loads(record_path.read_text())
            if record.get("outcome") == "bronze":
                out.add((record["format"], record["delimiter"], record["target_key"]))
    return [(fmt, delim, bronze_dir / key) for fmt, delim, key in sorted(out)]


def _file_relation(con, fmt: str, delimiter: str | None, path: Path) -> tuple[str, list[str]]:
    """A SQL relation over one file and its column names; every value as text, like Spark's
    `primitivesAsString` / CSV-as-strings read in bronze_to_silver."""
    p = _q(str(path))
    if fmt == "csv":
        rel = (
            f"read_csv({p}, header=true, all_varchar=true, delim={_q(delimiter or ',')}, "
            "quote='\"', escape='\"', strict_mode=false)"
        )
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        return rel, cols
    if fmt in ("json", "ndjson"):
        layout = "array" if fmt == "json" else "newline_delimited"
        rel = f"read_json_objects({p}, format='{layout}')"
        keys = con.execute(f"SELECT DISTINCT unnest(json_keys(json)) FROM {rel}").fetchall()
        return rel, [k[0] for k in keys]
    rel = f"read_parquet({p})"
    return rel, [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]


def _conformed(con, spec: dict, fmt: str, delimiter: str | None, path: Path, key: str) -> str:
    rel, names = _file_relation(con, fmt, delimiter, path)
    canonical = {normalise_name(c): c for c in spec["columns"]}
    mapping: dict[str, str] = {}
    for name in names:
        target = canonical.get(normalise_name(name))
        if target and target not in mapping:
            mapping[target] = name

    def text(name: str) -> str:
        if fmt in ("json", "ndjson"):
            return f"json_extract_string(json, {_q('$.' + json.dumps(name))})"
        return f"CAST({_ident(name)} AS VARCHAR)"

    cols = [
        f"{text(mapping[c]) if c in mapping else 'NULL::VARCHAR'} AS {_ident(c)}"
        for c in spec["columns"]
    ]
    return f"SELECT {', '.join(cols)}, {_q(key)} AS source_file FROM {rel}"


def _typed(name: str, col: dict) -> tuple[str, list[tuple[str, str]]]:
    """(typed SQL value, [(reason, failed condition)]) over the standardised text `s_<name>`."""
    s = f"s_{name}"
    kind = col["type"]
    if kind == "timestamp":
        z = f"regexp_replace({s}, 'Z$', '+00:00')"
        value = (
            f"CASE WHEN regexp_full_match({s}, '\\d{{13}}') THEN make_timestamp({s}::BIGINT * 1000)"
            f" WHEN regexp_full_match({s}, '\\d{{10}}') THEN make_timestamp({s}::BIGINT * 1000000)"
            f" ELSE coalesce(CAST(try_strptime({z}, ['%Y-%m-%dT%H:%M:%S%z', "
            f"'%Y-%m-%dT%H:%M:%S.%f%z']) AS TIMESTAMP), try_strptime({s}, ['%Y-%m-%dT%H:%M:%S', "
            f"'%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f', "
            f"'%d/%m/%Y %H:%M'])) END"
        )
        return value, [("invalid_timestamp", f"{s} IS NOT NULL AND ({value}) IS NULL")]
    if kind in ("long", "double"):
        value = f"TRY_CAST({s} AS {'BIGINT' if kind == 'long' else 'DOUBLE'})"
        return value, [("invalid_number", f"{s} IS NOT NULL AND {value} IS NULL")]
    if kind == "money":
        value = f"TRY_CAST(regexp_replace({s}, '[$€£,\\s]', '', 'g') AS DECIMAL(18, 2))"
        return value, [
            ("invalid_number", f"{s} IS NOT NULL AND {value} IS NULL"),
            ("negative_amount", f"{value} < 0"),
        ]
    values = ", ".join(_q(v) for v in col.get("values") or [])
    if kind == "enum":
        return f"lower({s})", [
            ("unknown_enum", f"{s} IS NOT NULL AND lower({s}) NOT IN ({values})")
        ]
    if kind == "currency":
        return f"upper({s})", [
            ("invalid_currency", f"{s} IS NOT NULL AND upper({s}) NOT IN ({values})")
        ]
    if kind == "country":
        return f"upper({s})", []
    if kind == "email":
        return s, [
            (
                "malformed_email",
                f"{s} IS NOT NULL AND NOT regexp_full_match({s}, {_q(EMAIL_PATTERN.strip('^$'))})",
            )
        ]
    return s, []


def build_silver(con, spec: dict, files: list, out_dir: Path) -> dict:
    """One dataset's SILVER table (and its quarantined rows) from all its bronze files."""
    dataset = spec["dataset"]
    union = " UNION ALL BY NAME ".join(
        _conformed(con, spec, fmt, delim, path, str(path)) for fmt, delim, path in files
    )
    nulls = ", ".join(_q(v) for v in NULL_SPELLINGS)
    std = ", ".join(
        f"CASE WHEN trim({_ident(c)}) IN ({nulls}) THEN NULL ELSE trim({_ident(c)}) END AS s_{c}"
        for c in spec["columns"]
    )
    typed, failures = [], {r: [] for r in REASONS}
    for name, col in spec["columns"].items():
        value, rules = _typed(name, col)
        typed.append(f"{value} AS {_ident(name)}")
        if col.get("required"):
            failures["missing_required_key"].append(f"s_{name} IS NULL")
        for reason, cond in rules:
            failures[reason].append(f"coalesce({cond}, false)")
    flags = [f"CASE WHEN {' OR '.join(c)} THEN {_q(r)} END" for r, c in failures.items() if c]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cleaned_{dataset} AS "
        f"SELECT {', '.join(typed)}, source_file, "
        f"nullif(concat_ws(',', {', '.join(flags)}), '') AS quarantine_reason "
        f"FROM (SELECT *, {std} FROM ({union}))"
    )
    key = ", ".join(spec["key"])
    order_by = spec["order_by"]
    business = ", ".join(_ident(c) for c in spec["columns"])
    good = f"(SELECT * FROM cleaned_{dataset} WHERE quarantine_reason IS NULL)"
    if spec.get("scd2_tracked"):
        tracked = ", ".join(spec["scd2_tracked"])
        select = (
            f"WITH d AS (SELECT DISTINCT ON ({business}) {business} FROM {good}), "
            f"h AS (SELECT *, hash({tracked}) AS _scd_hash FROM d), "
            f"c AS (SELECT * FROM (SELECT *, lag(_scd_hash) OVER (PARTITION BY {key} ORDER BY "
            f"{order_by}) AS _prev FROM h) WHERE _prev IS NULL OR _prev <> _scd_hash) "
            f"SELECT {business}, {order_by} AS valid_from, lead({order_by}) OVER (PARTITION BY "
            f"{key} ORDER BY {order_by}) AS valid_to FROM c"
        )
        select = f"SELECT *, valid_to IS NULL AS is_current FROM ({select})"
    else:
        select = (
            f"SELECT * EXCLUDE (_rank, quarantine_reason), CAST({spec['partition_date_from']} AS "
            f"DATE) AS event_date FROM (SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY "
            f"{order_by} DESC, source_file) AS _rank FROM {good}) WHERE _rank = 1"
        )
    con.execute(f"CREATE OR REPLACE TABLE silver_{dataset} AS {select}")
    con.execute(
        f"COPY silver_{dataset} TO {_q(str(out_dir / f'{dataset}.parquet'))} (FORMAT parquet)"
    )
    con.execute(
        f"COPY (SELECT * FROM cleaned_{dataset} WHERE quarantine_reason IS NOT NULL) TO "
        f"{_q(str(out_dir / f'{dataset}_quarantine.parquet'))} (FORMAT parquet)"
    )
    rows_read, quarantined = con.execute(
        f"SELECT count(*), count(quarantine_reason) FROM cleaned_{dataset}"
    ).fetchone()
    silver_rows = con.execute(f"SELECT count(*) FROM silver_{dataset}").fetchone()[0]
    con.execute(f"DROP TABLE cleaned_{dataset}")
    return {"rows_read": rows_read, "rows_quarantined": quarantined, "silver_rows": silver_rows}


def _values(rows: list[tuple], columns: str) -> str:
    body = ", ".join(
        "("
        + ", ".join(
            _q(str(v)) if isinstance(v, str) else str(v).upper() if isinstance(v, bool) else repr(v)
            for v in row
        )
        + ")"
        for row in rows
    )
    return f"(VALUES {body}) AS t({columns})"


GOLD_SQL = {
    # The unknown member as docs/datasets.md describes it: user_sk and user_id -1, no
    # attributes, never current, an empty validity at 1970-01-01.
    # No personal data: user_key (docs/pii.md) instead of email and full_name, which only
    # user_pii (the warehouse's restricted schema) holds.
    "dim_users": """SELECT * FROM (
          SELECT CAST(hash(user_id, valid_from) >> 1 AS BIGINT) AS user_sk, user_id,
            user_key(user_id) AS user_key, country, status, signup_ts, valid_from, valid_to,
            is_current
          FROM silver_users
          UNION ALL
          SELECT -1, -1, NULL, NULL, NULL, NULL, TIMESTAMP '1970-01-01 00:00:00',
            TIMESTAMP '1970-01-01 00:00:00', false)
        ORDER BY user_id, valid_from""",
    "user_pii": """SELECT user_key(user_id) AS user_key, user_id, email, full_name, valid_from,
          valid_to, is_current
        FROM silver_users ORDER BY user_id, valid_from""",
    "fact_events": """SELECT event_id, CAST(strftime(event_date, '%Y%m%d') AS INTEGER) AS date_key,
        event_date, event_ts, user_id, event_type, session_id, device, country, product_id
        FROM silver_events ORDER BY event_date, event_id""",
    "fact_transactions": """SELECT t.transaction_id,
        CAST(strftime(CAST(t.transaction_ts AS DATE), '%Y%m%d') AS INTEGER) AS date_key,
        t.transaction_ts, t.user_id, coalesce(v.user_sk, f.user_sk, -1) AS user_sk, t.status,
        t.currency, t.amount,
        CAST(t.amount * r.usd_rate AS DECIMAL(18, 2)) AS amount_usd, t.payment_method
        FROM silver_transactions t
        LEFT JOIN dim_users v ON t.user_id = v.user_id AND v.valid_from <= t.transaction_ts
            AND (v.valid_to IS NULL OR t.transaction_ts < v.valid_to) AND v.user_sk <> -1
        LEFT JOIN (SELECT user_id, arg_min(user_sk, valid_from) AS user_sk FROM dim_users
                   WHERE user_sk <> -1 GROUP BY user_id) f ON t.user_id = f.user_id
        LEFT JOIN rates r ON t.currency = r.currency
        ORDER BY t.transaction_ts, t.transaction_id""",
    "dim_date": """SELECT CAST(strftime(d, '%Y%m%d') AS INTEGER) AS date_key, d AS date,
        year(d) AS year, quarter(d) AS quarter, month(d) AS month, day(d) AS day,
        dayofweek(d) + 1 AS day_of_week, dayofweek(d) IN (0, 6) AS is_weekend
        FROM (SELECT CAST(unnest(generate_series(min(d), max(d), INTERVAL 1 DAY)) AS DATE) AS d
              FROM (SELECT event_date AS d FROM fact_events UNION ALL
                    SELECT CAST(transaction_ts AS DATE) FROM fact_transactions)) ORDER BY d""",
    "dim_country": """SELECT s.country_code, r.name AS country_name, r.region
        FROM (SELECT DISTINCT country AS country_code FROM (SELECT country FROM silver_users
              UNION ALL SELECT country FROM silver_events) WHERE country IS NOT NULL) s
        LEFT JOIN countries r USING (country_code) ORDER BY country_code""",
    "dim_status": "SELECT * FROM statuses ORDER BY status",
    "fact_user_activity": """SELECT user_id, activity_date,
        CAST(strftime(activity_date, '%Y%m%d') AS INTEGER) AS date_key,
        coalesce(events, 0) AS events, coalesce(sessions, 0) AS sessions,
        coalesce(purchases, 0) AS purchases,
        coalesce(spend_usd, CAST(0 AS DECIMAL(18, 2))) AS spend_usd
        FROM (SELECT user_id, event_date AS activity_date, count(*) AS events,
                     count(DISTINCT session_id) AS sessions,
                     sum(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchases
              FROM fact_events GROUP BY ALL) ev
        FULL JOIN (SELECT user_id, CAST(transaction_ts AS DATE) AS activity_date,
                          sum(amount_usd) AS spend_usd
                   FROM fact_transactions WHERE status = 'completed' GROUP BY ALL) sp
        USING (user_id, activity_date) ORDER BY activity_date, user_id""",
    "daily_event_counts": """SELECT event_date, event_type, count(*) AS event_count,
        count(DISTINCT user_id) AS unique_users FROM silver_events GROUP BY ALL
        ORDER BY event_date, event_type""",
    "daily_revenue": """SELECT CAST(strftime(revenue_date, '%Y%m%d') AS INTEGER) AS date_key,
        revenue_date, currency, gross, refunds, CAST(gross - refunds AS DECIMAL(18, 2)) AS net,
        gross_usd, refunds_usd, CAST(gross_usd - refunds_usd AS DECIMAL(18, 2)) AS net_usd
        FROM (SELECT CAST(transaction_ts AS DATE) AS revenue_date, currency,
          CAST(coalesce(sum(amount) FILTER (status IN ('completed', 'refunded')), 0)
               AS DECIMAL(18, 2)) AS gross,
          CAST(coalesce(sum(amount) FILTER (status = 'refunded'), 0) AS DECIMAL(18, 2)) AS refunds,
          CAST(coalesce(sum(amount_usd) FILTER (status IN ('completed', 'refunded')), 0)
               AS DECIMAL(18, 2)) AS gross_usd,
          CAST(coalesce(sum(amount_usd) FILTER (status = 'refunded'), 0)
               AS DECIMAL(18, 2)) AS refunds_usd
          FROM fact_transactions GROUP BY ALL) ORDER BY revenue_date, currency""",
    "daily_active_users": """SELECT CAST(strftime(event_date, '%Y%m%d') AS INTEGER) AS date_key,
        event_date AS activity_date, count(DISTINCT user_id) AS active_users
        FROM fact_events GROUP BY event_date ORDER BY activity_date""",
    "user_ltv": """SELECT user_id, count(*) AS orders, sum(amount_usd) AS ltv_usd,
        min(CAST(transaction_ts AS DATE)) AS first_order_date,
        max(CAST(transaction_ts AS DATE)) AS last_order_date
        FROM fact_transactions WHERE status = 'completed' GROUP BY user_id ORDER BY user_id""",
    "sales_daily": """SELECT CAST(strftime(sales_date, '%Y%m%d') AS INTEGER) AS date_key,
        sales_date, orders, gmv_usd, net_revenue_usd,
        CASE WHEN orders > 0 THEN CAST(net_revenue_usd / orders AS DECIMAL(18, 2)) END AS aov_usd
        FROM (SELECT CAST(transaction_ts AS DATE) AS sales_date,
          sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS orders,
          CAST(coalesce(sum(amount_usd) FILTER (status IN ('completed', 'pending', 'refunded')),
                        0) AS DECIMAL(18, 2)) AS gmv_usd,
          CAST(coalesce(sum(amount_usd) FILTER (status = 'completed'), 0)
               AS DECIMAL(18, 2)) AS net_revenue_usd
          FROM fact_transactions GROUP BY ALL) ORDER BY sales_date""",
    "customer_360": """SELECT u.user_id, u.country, u.status,
        strftime(u.signup_ts, '%Y-%m') AS cohort_month, coalesce(l.orders, 0) AS orders,
        CAST(coalesce(l.ltv_usd, 0) AS DECIMAL(18, 2)) AS ltv_usd,
        date_diff('day', l.last_order_date, (SELECT max(date) FROM dim_date)) AS recency_days,
        coalesce(date_diff('day', l.last_order_date, (SELECT max(date) FROM dim_date)) > 30, true)
            OR u.status <> 'active' AS churn_risk,
        CASE WHEN coalesce(l.orders, 0) = 0 THEN 'prospect'
             WHEN coalesce(l.ltv_usd, 0) >= 1000 THEN 'vip'
             WHEN l.orders >= 3 THEN 'loyal' ELSE 'occasional' END AS segment,
        strftime(l.first_order_date, '%Y-%m') AS first_order_month,
        CASE WHEN l.first_order_date IS NULL
               OR date_trunc('month', l.first_order_date) + INTERVAL 1 MONTH
                  > (SELECT max(date) FROM dim_date) THEN NULL
             ELSE EXISTS (SELECT 1 FROM fact_user_activity a
                          WHERE a.user_id = u.user_id
                            AND date_trunc('month', a.activity_date)
                                = date_trunc('month', l.first_order_date) + INTERVAL 1 MONTH)
        END AS retained
        FROM dim_users u LEFT JOIN user_ltv l USING (user_id) WHERE u.is_current
        ORDER BY u.user_id""",
    # The operational tables: the newest version of each row from the change history.
    "dim_product": """SELECT product_id, name, category, unit_price,
        CAST(updated_at AS TIMESTAMP) AS updated_at
        FROM bronze_products QUALIFY row_number() OVER (PARTITION BY product_id
                                                         ORDER BY updated_at DESC) = 1
        ORDER BY product_id""",
    "fact_shipments": f"""SELECT s.shipment_id, s.transaction_id, s.carrier, s.status,
        CAST(s.shipped_at AS TIMESTAMP) AS shipped_at,
        CAST(s.delivered_at AS TIMESTAMP) AS delivered_at,
        (epoch(s.delivered_at) - epoch(s.shipped_at)) / 3600.0 AS delivery_hours,
        s.shipping_cost, coalesce(r.readings, 0) AS readings, r.max_temperature_c,
        coalesce(r.excursions, 0) AS temperature_excursions
        FROM (SELECT * FROM bronze_shipments QUALIFY row_number() OVER (
                PARTITION BY shipment_id ORDER BY updated_at DESC) = 1) s
        LEFT JOIN (SELECT shipment_id, count(*) AS readings,
                          max(temperature_c) AS max_temperature_c,
                          count(*) FILTER (WHERE temperature_c < {COLD_CHAIN_C[0]}
                                              OR temperature_c > {COLD_CHAIN_C[1]}) AS excursions
                   FROM silver_shipment_tracking GROUP BY shipment_id) r USING (shipment_id)
        ORDER BY s.shipment_id""",
    # Units sold are the product's purchase events spread evenly over its warehouses (rounded
    # down); turnover over the average stock of the change history; days on hand at the
    # selling rate over the days of data.
    "inventory_health": """WITH now AS (
          SELECT * FROM bronze_inventory QUALIFY row_number() OVER (
            PARTITION BY product_id, warehouse_id ORDER BY updated_at DESC) = 1),
        hist AS (SELECT product_id, warehouse_id,
                        count(*) FILTER (WHERE quantity_on_hand = 0) AS incidents,
                        avg(quantity_on_hand) AS avg_qty
                 FROM bronze_inventory GROUP BY ALL),
        sold AS (SELECT n.product_id, n.warehouse_id,
                   CAST(floor(coalesce(u.units, 0) / count(*) OVER (PARTITION BY n.product_id))
                        AS BIGINT) AS units_sold
                 FROM now n LEFT JOIN (SELECT product_id, count(*) AS units FROM fact_events
                                       WHERE event_type = 'purchase' AND product_id IS NOT NULL
                                       GROUP BY ALL) u USING (product_id))
        SELECT product_id, warehouse_id, CAST(quantity_on_hand AS BIGINT) AS quantity_on_hand,
          quantity_on_hand = 0 AS out_of_stock, incidents AS out_of_stock_incidents, units_sold,
          CASE WHEN avg_qty > 0 THEN units_sold / avg_qty END AS turnover,
          CASE WHEN units_sold > 0
               THEN quantity_on_hand / (units_sold / (SELECT count(*) FROM dim_date)) END
            AS days_on_hand
        FROM now JOIN hist USING (product_id, warehouse_id)
          JOIN sold USING (product_id, warehouse_id)
        ORDER BY product_id, warehouse_id""",
    # A purchase at the unit price of the product's version in force at its time (an ASOF join
    # over every version the source made), the first version's for a purchase before it.
    "product_sales_daily": """WITH v AS (
          SELECT product_id, unit_price, CAST(updated_at AS TIMESTAMP) AS since
          FROM bronze_products),
        p AS (SELECT e.event_date, e.product_id, greatest(e.event_ts, f.first_since) AS at
              FROM fact_events e
              JOIN (SELECT product_id, min(since) AS first_since FROM v GROUP BY ALL) f
                USING (product_id)
              WHERE e.event_type = 'purchase')
        SELECT CAST(strftime(p.event_date, '%Y%m%d') AS INTEGER) AS date_key,
          p.event_date AS sales_date, p.product_id, count(*) AS units,
          CAST(sum(v.unit_price) AS DECIMAL(18, 2)) AS list_value
        FROM p ASOF JOIN v ON p.product_id = v.product_id AND p.at >= v.since
        GROUP BY ALL ORDER BY sales_date, product_id""",
    # The cost per order is the average to the cent, rounded half up (in whole cents, as
    # DuckDB's average of a decimal is a double).
    "delivery_performance": f"""SELECT carrier, count(*) AS shipments,
        count(delivery_hours) AS delivered,
        quantile_cont(delivery_hours, 0.5) AS p50_delivery_hours,
        quantile_cont(delivery_hours, 0.9) AS p90_delivery_hours,
        count(*) FILTER (WHERE delivery_hours > {LATE_HOURS}) / nullif(count(delivery_hours), 0)
          AS late_delivery_rate,
        CAST(CAST((2 * CAST(sum(shipping_cost) * 100 AS HUGEINT) + count(*)) // (2 * count(*))
                  AS DECIMAL(18, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2))
          AS shipping_cost_per_order,
        CAST(sum(temperature_excursions) AS BIGINT) AS temperature_excursions,
        count(*) FILTER (WHERE status = 'returned') AS returned,
        count(*) FILTER (WHERE status = 'returned') / nullif(count(delivery_hours), 0)
          AS return_rate
        FROM fact_shipments WHERE carrier IS NOT NULL GROUP BY carrier ORDER BY carrier""",
}


def load_operational(con, data: Path, batches: list[int]) -> None:
    """The operational source's change history as db_to_bronze lands it (every version the
    source held when it was read after each batch), from the upsert files the source was
    loaded from: a row lost or doubled between the source and BRONZE shows in GOLD."""
    for table, columns in OPERATIONAL.items():
        files = [str(data / f"batch-{b:02d}" / "operational" / f"{table}.csv") for b in batches]
        types = "{" + ", ".join(f"{_q(c)}: {_q(t)}" for c, t in columns.items()) + "}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE bronze_{table} AS SELECT * FROM read_csv("
            f"[{', '.join(map(_q, files))}], header = true, columns = {types})"
        )


def build_gold(con, out_dir: Path, pii_key: bytes) -> dict[str, int]:
    """Every gold table from the peer's SILVER tables and the operational history
    (`load_operational` first), each written as one Parquet file. user_key is the documented
    pseudonym: hex HMAC-SHA256 under `pii_key` of the user id's decimal text."""

    def user_key(user_id: int) -> str:
        return hmac.new(pii_key, str(user_id).encode(), hashlib.sha256).hexdigest()

    con.create_function("user_key", user_key, ["BIGINT"], "VARCHAR")
    rates = [(c, float(r)) for c, r in USD_RATES.items()]  # exact as decimal(18, 6)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rates AS SELECT currency, "
        f"CAST(usd_rate AS DECIMAL(18, 6)) AS usd_rate FROM {_values(rates, 'currency, usd_rate')}"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE countries AS SELECT * FROM "
        + _values([(c, n, r) for c, (n, r) in COUNTRIES.items()], "country_code, name, region")
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE statuses AS SELECT * FROM "
        + _values(
            [(s, *f) for s, f in STATUSES.items()],
            "status, is_revenue, is_refund, counts_toward_gmv",
        )
    )
    rows = {}
    for name in GOLD_TABLES:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {GOLD_SQL[name]}")
        con.execute(f"COPY {name} TO {_q(str(out_dir / f'{name}.parquet'))} (FORMAT parquet)")
        rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return rows


def gold_figures(con) -> dict:
    """The figures manifest.json's `gold` section records, from the peer's gold tables."""
    return read_gold_figures(lambda sql: con.execute(sql).fetchall())


def connect(threads: int = 2, memory_limit: str = "4GB"):
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}; SET memory_limit = '{memory_limit}'")
    con.execute("SET TimeZone = 'UTC'; SET preserve_insertion_order = false")
    return con

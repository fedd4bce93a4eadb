"""The bronze_to_silver job on the committed reference sample, batch by batch, reconciled
exactly with the ground-truth manifest: rows read = silver + quarantined (per reason) +
duplicates, SCD2 history per user, gold-level figures from silver, and an idempotent rerun.

Runs the job's own functions on the test SparkSession with Delta on local files (the same code
path as on S3A; the S3A path is covered by the e2e run)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from pyspark.sql import functions as F

from harness.inprocess import pii_key
from lakehouse.config.registry import load_registry
from lakehouse.platform.pipeline import SAMPLE
from spark_jobs.silver import batch as silver_batch

MANIFEST = json.loads((SAMPLE / "manifest.json").read_text())
SPECS = {s["dataset"]: s for s in json.loads(load_registry().silver_specs_json())}


def _sum(per_batch: list[dict], dataset: str, field: str) -> Counter:
    total: Counter = Counter()
    for metrics in per_batch:
        value = metrics[dataset].get(field, {})
        total.update(value if isinstance(value, dict) else {field: value})
    return total


@pytest.mark.parametrize("dataset", sorted(d for d, s in SPECS.items() if s["source"] == "files"))
def test_counts_reconcile_with_the_manifest(silver_run, dataset):
    spark, per_batch, silver, quarantine = silver_run
    expected = MANIFEST["datasets"][dataset]
    assert _sum(per_batch, dataset, "rows_read")["rows_read"] == expected["rows_in"]
    assert dict(_sum(per_batch, dataset, "rows_quarantined")) == expected["quarantined_rows"]
    dups = _sum(per_batch, dataset, "duplicates_dropped")
    assert dups["exact"] == expected["duplicates_dropped"]["exact"]
    assert dups["superseded_by_later"] == expected["duplicates_dropped"]["superseded_by_later"]
    table = spark.read.format("delta").load(f"{silver}/{dataset}")
    assert table.count() == expected["silver_rows"]
    if dataset != "users":  # every silver row was inserted exactly once, over the batches
        assert _sum(per_batch, dataset, "rows_inserted")["rows_inserted"] == expected["silver_rows"]
    else:
        new_versions = _sum(per_batch, dataset, "scd2_new_versions")["scd2_new_versions"]
        assert new_versions == expected["scd2"]["versions_total"]
    bad = spark.read.format("delta").load(f"{quarantine}/{dataset}")
    assert bad.count() == sum(expected["quarantined_rows"].values())
    assert {"quarantine_reason", "source_file", "_batch_id"} <= set(bad.columns)
    for metrics in per_batch:
        assert all(check["passed"] for check in metrics[dataset]["dq"]), metrics[dataset]["dq"]


def test_operational_tables_reconcile_with_the_source(silver_run):
    """The operational tables through the incremental watermark path, batch by batch: SILVER
    reads every upsert the source made exactly once (the rows re-read at the high-water mark
    are kept out by db_to_bronze's MERGE), keeps every product price as an SCD2 version and
    every stock count, the latest version of each shipment, and quarantines nothing (the
    source's upserts are clean)."""
    spark, per_batch, silver, _ = silver_run
    ops = MANIFEST["operational"]
    upserted = Counter()
    for batch in ops["batches"]:
        upserted.update(batch["upserted"])
    for table in ("products", "inventory", "shipments"):
        assert _sum(per_batch, table, "rows_read")["rows_read"] == upserted[table], table
        assert not _sum(per_batch, table, "rows_quarantined"), table
        assert all(c["passed"] for m in per_batch for c in m[table].get("dq", [])), table
    read = lambda name: spark.read.format("delta").load(f"{silver}/{name}")  # noqa: E731
    products = read("products")
    assert products.count() == upserted["products"]
    assert (
        _sum(per_batch, "products", "scd2_new_versions")["scd2_new_versions"]
        == upserted["products"]
    )
    assert products.where("is_current").count() == ops["final_rows"]["products"]
    assert read("inventory").count() == upserted["inventory"]
    assert read("shipments").count() == ops["final_rows"]["shipments"]
    superseded = _sum(per_batch, "shipments", "duplicates_dropped")["superseded_by_later"]
    assert superseded == upserted["shipments"] - ops["final_rows"]["shipments"]


def test_scd2_history_per_user(silver_run):
    spark, _, silver, _ = silver_run
    users = spark.read.format("delta").load(f"{silver}/users")
    versions = {str(r.user_id): r["count"] for r in users.groupBy("user_id").count().collect()}
    assert versions == MANIFEST["datasets"]["users"]["scd2"]["versions_per_user"]
    current = users.where("is_current")
    assert current.count() == MANIFEST["datasets"]["users"]["scd2"]["users"]
    assert users.where("NOT is_current AND valid_to IS NULL").count() == 0
    # every closed version ends where the next one starts
    by_user = defaultdict(list)
    for r in users.select("user_id", "valid_from", "valid_to").collect():
        by_user[r.user_id].append((r.valid_from, r.valid_to))
    for spans in by_user.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end == start


def test_gold_figures_from_silver_match(silver_run):
    spark, _, silver, _ = silver_run
    events = spark.read.format("delta").load(f"{silver}/events")
    daily = events.groupBy("event_date").agg(F.countDistinct("user_id").alias("dau"))
    dau = {str(r.event_date): r.dau for r in daily.collect()}
    assert dau == MANIFEST["gold"]["daily_active_users"]
    txns = spark.read.format("delta").load(f"{silver}/transactions").where("status = 'completed'")
    revenue = {
        r.currency: str(r.total)
        for r in txns.groupBy("currency").agg(F.sum("amount").alias("total")).collect()
    }
    assert revenue == MANIFEST["gold"]["net_revenue_by_currency"]
    orders = {
        str(r.d): r["count"]
        for r in txns.groupBy(F.to_date("transaction_ts").alias("d")).count().collect()
    }
    assert orders == MANIFEST["gold"]["orders_per_day"]


def test_extra_columns_are_kept_and_reported(silver_run):
    spark, per_batch, silver, _ = silver_run
    assert "INGEST_HOST" in per_batch[0]["events"]["extra_columns"]
    events = spark.read.format("delta").load(f"{silver}/events")
    assert events.where(F.col("_extra")["INGEST_HOST"] == "edge-7").count() > 0


def test_rerun_with_nothing_new_changes_nothing(silver_run):
    spark, _, silver, quarantine = silver_run
    bronze = silver.replace("lakehouse-silver", "lakehouse-bronze")

    def fingerprint() -> dict:
        out = {}
        for ds in SPECS:
            for path in (f"{silver}/{ds}", f"{quarantine}/{ds}"):
                df = spark.read.format("delta").load(path).drop("_extra")
                out[path] = df.select(F.sum(F.xxhash64(*df.columns)), F.count("*")).collect()[0]
        return out

    before = fingerprint()
    for spec in SPECS.values():
        result = silver_batch.process_dataset(spark, spec, bronze, silver, quarantine, "rerun")
        assert result["files"] == 0
    assert fingerprint() == before


# ----------------------------------------------------------------------------- gold
@pytest.fixture(scope="module")
def gold_figures(gold) -> dict:
    """The manifest's GOLD figures read from Spark's tables by the same SQL that reads them from
    the peer and the warehouse (seed_data/gold_figures.py), through temporary views."""
    from seed_data.gold_figures import gold_figures as read

    spark, tables = gold
    for name, frame in tables.items():
        frame.createOrReplaceTempView(name)
    return read(lambda sql: [tuple(r) for r in spark.sql(sql).collect()])


def test_gold_marts_match_the_manifest(gold_figures):
    """Every GOLD table's figures equal the generator's, one by one: events per day and type,
    money per day and currency, transactions per status, DAU, orders per day, user activity,
    countries, dim_users' versions (with the unknown member) and current rows, dates,
    statuses, sales and customers in USD, products, shipments (per status and carrier, late
    and returned ones included), stock and its change history (this lake reads the
    operational source after every batch)."""
    for name, expected in MANIFEST["gold"].items():
        if name != "user_ltv":
            assert gold_figures[name] == expected, name


def test_user_ltv_matches_the_manifest(gold_figures):
    """Buyers and their orders, and the named buyers' rows in full (users who never bought
    have no row: a join or filter that kept them, or lost a day, moves these)."""
    assert gold_figures["user_ltv"] == MANIFEST["gold"]["user_ltv"]


def test_gold_schemas_are_the_declared_ones(gold):
    from spark_jobs.silver_to_gold import SCHEMAS

    _, tables = gold
    for name, df in tables.items():
        got = [(f.name, f.dataType) for f in df.schema.fields]
        assert got == [(f.name, f.dataType) for f in SCHEMAS[name].fields], name


def test_gold_quality_checks_pass(gold):
    from spark_jobs.silver_to_gold import quality_checks

    _, tables = gold
    checks = quality_checks(tables)
    assert checks and all(c["passed"] for c in checks), [c for c in checks if not c["passed"]]


def test_gold_rebuild_is_identical(gold, silver_run):
    from spark_jobs import silver_to_gold

    spark, tables = gold
    _, _, silver, _ = silver_run
    again = silver_to_gold.build_all(spark, silver, pii_key())

    def digest(df):
        return df.select(F.sum(F.xxhash64(*df.columns)), F.count("*")).collect()[0]

    for name in ("fact_transactions", "daily_revenue", "customer_360", "dim_users"):
        assert digest(tables[name]) == digest(again[name]), name


def test_gold_without_its_silver_inputs_names_what_is_missing(gold, silver_run):
    from spark_jobs import silver_to_gold

    spark, _ = gold
    _, _, silver, _ = silver_run
    empty = silver.replace("lakehouse-silver", "lakehouse-silver-empty")
    with pytest.raises(silver_to_gold.MissingInputs, match="events, transactions, users missing"):
        silver_to_gold.build_all(spark, empty, pii_key())


# ----------------------------------------------------------------------------- the peer
def test_the_peer_equals_spark_row_for_row_and_gives_the_manifests_figures(
    reference_lake, gold_export, silver_run, tmp_path
):
    """The DuckDB peer (rules from the documented contract) over the sample's three batches
    and the operational source's upserts: every SILVER table, the quarantine per file and
    reason, and all 17 GOLD tables equal Spark's row for row (late members, SCD2 versions,
    returned and late shipments, the stock's change history included), and its GOLD figures
    equal the manifest's."""
    from benchmarks.suite import peer_run

    spark = silver_run[0]
    batches = [b["batch"] for b in MANIFEST["batches"]]
    peer = peer_run(spark, reference_lake, SAMPLE, batches, SPECS, tmp_path)
    assert not peer["differences"], "\n".join(peer["differences"])
    for name, expected in MANIFEST["gold"].items():
        assert peer["gold_figures"][name] == expected, name

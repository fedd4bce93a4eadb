"""Nothing lost, nothing stuck, on the S3 server with the jobs' own functions on Spark and Delta:

- two different files under the same name on the same day (an upstream that writes
  `hourly.csv` every hour) both reach SILVER, landed before and after SILVER ran;
- a batch over its error rate fails, names its worst files and the command that releases them;
  after `lakehouse silver release` the next run quarantines the released file whole (who, when,
  why) and the rest goes through; with `max_file_error_rate` set, no operator is needed;
- a transaction whose user has not arrived yet is keyed to the unknown member, counted in a
  reported (non-failing) check and in the warehouse, and re-keyed once the user arrives.

Every expected count comes from the rows the test itself writes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from harness.inprocess import pii_key
from lakehouse import ingest
from lakehouse.cli import main as cli
from lakehouse.config.registry import load_registry
from lakehouse.ingest.release import ReleaseError, release
from seed_data.contract import CANONICAL_COLUMNS
from spark_jobs.gold import dims
from spark_jobs.silver import batch as silver_batch
from spark_jobs.silver import bookmark
from spark_jobs.silver import release as R

SPECS = {s["dataset"]: s for s in json.loads(load_registry().silver_specs_json())}
EVENT_COLUMNS = list(CANONICAL_COLUMNS["events"])


def csv_bytes(columns: list[str], rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


def events(prefix: str, count: int, bad: int = 0) -> bytes:
    """`count` events with ids prefix-0000..; the first `bad` have an unreadable timestamp."""
    rows = [
        (
            f"{prefix}-{i:04d}",
            1 + i % 7,
            "page_view",
            "not a time" if i < bad else f"2026-11-0{1 + i % 3}T10:{i % 60:02d}:00Z",
            f"s-{i}",
            "web",
            "DE",
            "",
            "{}",
        )
        for i in range(count)
    ]
    return csv_bytes(EVENT_COLUMNS, rows)


def roots(profile) -> dict[str, str]:
    return {z: profile.spark_uri(z).rstrip("/") for z in ("bronze", "silver", "quarantine", "gold")}


def silver_run(spark, profile, dataset: str, batch: str, spec: dict | None = None) -> dict:
    r = roots(profile)
    quarantine = f"{r['quarantine']}/rows"
    return silver_batch.process_dataset(
        spark, spec or SPECS[dataset], r["bronze"], r["silver"], quarantine, batch
    )


def land(profile, store, dataset: str, name: str, body: bytes) -> dict:
    """One file dropped into RAW and ingested; its ingestion log record."""
    store.put(profile.zones.raw, f"{dataset}/{name}", body)
    (record,) = ingest.ingest_dataset(profile, dataset, store)["files"]
    return record


def silver_ids(spark, profile, dataset: str, key: str) -> list[str]:
    table = spark.read.format("delta").load(profile.spark_uri("silver", dataset))
    return sorted(r[0] for r in table.select(key).collect())


def quarantine_rows(spark, profile, dataset: str) -> list:
    path = profile.spark_uri("quarantine", f"rows/{dataset}")
    return spark.read.format("delta").load(path).collect()


def test_same_named_files_on_one_day_all_reach_silver(s3_spark, lake):
    profile, store = lake
    first, second, third = events("a", 40), events("b", 30), events("c", 20)
    before = [land(profile, store, "events", "hourly.csv", body) for body in (first, second)]
    assert silver_run(s3_spark, profile, "events", "b1")["files"] == 2
    after = land(profile, store, "events", "hourly.csv", third)
    assert silver_run(s3_spark, profile, "events", "b2")["files"] == 1
    resent = land(profile, store, "events", "hourly.csv", first)  # a rerun of the same content

    records = [*before, after]
    days = {r["target_key"].split("/")[1] for r in records}
    assert len(days) == 1, f"landed across midnight, not one day: {days}"
    assert [r["outcome"] for r in records] == ["bronze"] * 3
    assert len({r["target_key"] for r in records}) == 3, "a file overwrote another in BRONZE"
    for record, body in zip(records, (first, second, third), strict=True):
        assert store.get(profile.zones.bronze, record["target_key"]) == body
    assert (resent["outcome"], resent["target_key"]) == (
        "already_ingested",
        before[0]["target_key"],
    )
    # The ingestion log, BRONZE and SILVER agree file by file.
    logged = {
        r["target_key"]
        for r in ingest.read_log(store, profile.zones.bronze, "events")
        if r["outcome"] == "bronze"
    }
    assert logged == {r["target_key"] for r in records}
    processed = s3_spark.read.format("delta").load(profile.spark_uri("silver", bookmark.PROCESSED))
    assert sorted(r.bronze_key for r in processed.collect()) == sorted(logged)
    expected = sorted(
        [f"a-{i:04d}" for i in range(40)]
        + [f"b-{i:04d}" for i in range(30)]
        + [f"c-{i:04d}" for i in range(20)]
    )
    assert silver_ids(s3_spark, profile, "events", "event_id") == expected


def test_a_poison_batch_fails_names_its_file_and_goes_through_once_released(s3_spark, lake):
    profile, store = lake
    poison = land(profile, store, "events", "poison.csv", events("p", 20, bad=15))["target_key"]
    good = land(profile, store, "events", "good.csv", events("g", 40))["target_key"]
    usual = land(profile, store, "events", "usual.csv", events("u", 30, bad=1))["target_key"]

    for batch in ("b1", "b2"):  # stuck: every run reads the same files and fails the same way
        failed = silver_run(s3_spark, profile, "events", batch)
        (check,) = failed["dq"]
        assert (check["check"], check["passed"]) == ("error_rate", False)
        assert check["observed"] == round(16 / 90, 5)
        assert failed["worst_files"] == [
            {"bronze_key": poison, "rows": 20, "quarantined": 15, "error_rate": 0.75},
            {"bronze_key": usual, "rows": 30, "quarantined": 1, "error_rate": round(1 / 30, 5)},
        ]
        # Only the file that takes the batch over its limit is proposed (1 of 70 is fine).
        assert R.release_command("events", [poison]) + " (see" in check["remedy"]
    print({"remedy": check["remedy"], "skipped": failed["skipped"]})
    assert list(store.list(profile.zones.silver, "events/")) == []  # nothing written

    with pytest.raises(ReleaseError, match="not in the ingestion log of events"):
        release(profile, "events", ["events/ingest_date=2026-01-01/typo.csv"])
    assert (
        cli(
            [
                "--profile",
                "local",
                "silver",
                "release",
                "--dataset",
                "events",
                "--file",
                "events/typo.csv",
            ]
        )
        != 0
    )
    (record,) = release(profile, "events", [poison], note="export cut mid-write", by="ops-test")

    done = silver_run(s3_spark, profile, "events", "b3")
    assert all(c["passed"] for c in done["dq"]), done["dq"]
    assert done["rows_read"] == 90
    assert done["rows_quarantined"] == {R.RELEASED: 20, "invalid_timestamp": 1}
    assert done["rows_inserted"] == 69
    assert done["quarantined_whole"] == [
        {"bronze_key": poison, "rows": 20, "reason": R.RELEASED, "detail": R.detail(record)}
    ]
    assert silver_ids(s3_spark, profile, "events", "event_id") == sorted(
        [f"g-{i:04d}" for i in range(40)] + [f"u-{i:04d}" for i in range(1, 30)]
    )
    rows = quarantine_rows(s3_spark, profile, "events")
    assert sorted(r.event_id for r in rows) == [f"p-{i:04d}" for i in range(20)] + ["u-0000"]
    assert {(r.source_file, r.quarantine_reason) for r in rows} == {
        (poison, R.RELEASED),
        (usual, "invalid_timestamp"),
    }
    details = sorted(r.quarantine_detail for r in rows if r.source_file == poison)
    assert details[0].startswith("released by ops-test at ")
    assert "export cut mid-write" in details[0]
    assert sum("row reasons: invalid_timestamp" in d for d in details) == 15

    # Not stuck: the next file goes through, and the released one is not read again.
    land(profile, store, "events", "next.csv", events("n", 10))
    later = silver_run(s3_spark, profile, "events", "b4")
    assert (later["files"], later["rows_inserted"], later["quarantined_whole"]) == (1, 10, [])
    assert good in {
        r.bronze_key
        for r in s3_spark.read.format("delta")
        .load(profile.spark_uri("silver", bookmark.PROCESSED))
        .collect()
    }


def test_max_file_error_rate_quarantines_the_bad_file_whole_and_lets_the_rest_through(
    s3_spark, lake
):
    profile, store = lake
    poison = land(profile, store, "events", "poison.csv", events("p", 20, bad=15))["target_key"]
    land(profile, store, "events", "good.csv", events("g", 40, bad=1))
    spec = {**SPECS["events"], "max_file_error_rate": 0.5}
    done = silver_run(s3_spark, profile, "events", "b1", spec)
    assert all(c["passed"] for c in done["dq"]), done["dq"]
    assert done["rows_quarantined"] == {R.FILE_OVER_LIMIT: 20, "invalid_timestamp": 1}
    assert [(w["bronze_key"], w["rows"], w["reason"]) for w in done["quarantined_whole"]] == [
        (poison, 20, R.FILE_OVER_LIMIT)
    ]
    assert (
        "15 of 20 rows bad (75.0%) > max_file_error_rate 50.0%"
        in (done["quarantined_whole"][0]["detail"])
    )
    assert silver_ids(s3_spark, profile, "events", "event_id") == [
        f"g-{i:04d}" for i in range(1, 40)
    ]


USER_COLUMNS = list(CANONICAL_COLUMNS["users"])
TXN_COLUMNS = list(CANONICAL_COLUMNS["transactions"])


def users(ids: list[int], updated_at: str) -> bytes:
    return csv_bytes(
        USER_COLUMNS,
        [
            (
                i,
                f"u{i}@example.com",
                f"User {i}",
                "DE",
                "2026-10-01T00:00:00Z",
                "active",
                updated_at,
            )
            for i in ids
        ],
    )


def gold_and_warehouse(spark, profile) -> tuple[dict, dict]:
    """GOLD built, checked and published as the job does, then loaded into the warehouse."""
    from lakehouse import warehouse
    from lakehouse.warehouse.sql import figures_spec_json
    from spark_jobs import silver_to_gold

    r = roots(profile)
    spec = json.loads(figures_spec_json())
    tables = silver_to_gold.build_all(spark, r["silver"], pii_key())
    checks = {c["check"]: c for c in silver_to_gold.quality_checks(tables)}
    if all(c["passed"] for c in checks.values()):
        for name, df in tables.items():
            silver_to_gold.publish(df, r["gold"], f"{r['gold']}/_export", name, spec[name])
        loaded = warehouse.load(profile, ["dim_users", "fact_transactions"])
    else:
        loaded = None
    return checks, loaded


@pytest.fixture
def warehouse_lake(lake, throwaway_pg):
    """The test's lake with a warehouse schema of its own on the throwaway PostgreSQL."""
    from lakehouse import warehouse

    profile, store = lake
    wh = throwaway_pg.profile.warehouse.model_copy(update={"schema_name": "rel_late_members"})
    profile = profile.model_copy(update={"warehouse": wh})
    warehouse.bootstrap(profile)
    return profile, store


def test_a_user_not_arrived_yet_is_keyed_to_the_unknown_member_until_they_arrive(
    s3_spark, warehouse_lake
):
    import psycopg2

    profile, store = warehouse_lake
    land(profile, store, "users", "users_1.csv", users([1, 2, 3], "2026-10-01T00:00:00Z"))
    txns = [
        (f"t-{i}", 1 + i % 4, "10.00", "USD", "completed", "card", f"2026-11-01T1{i % 10}:00:00Z")
        for i in range(12)
    ]  # user 4: 3 of them
    land(profile, store, "transactions", "txns.csv", csv_bytes(TXN_COLUMNS, txns))
    land(profile, store, "events", "events.csv", events("e", 30))  # users 1..7
    for dataset in ("users", "transactions", "events"):
        silver_run(s3_spark, profile, dataset, "b1")

    checks, loaded = gold_and_warehouse(s3_spark, profile)
    assert all(c["passed"] for c in checks.values()), [
        c for c in checks.values() if not c["passed"]
    ]
    late = checks["late_arriving:fact_transactions.user_sk"]
    assert (late["observed"], late["blocking"]) == (3, False)
    assert checks["late_arriving:fact_events.user_id"]["observed"] == sum(
        1 + i % 7 > 3 for i in range(30)
    )
    assert loaded.tables["fact_transactions"]["figures"]["unknown:user_sk"] == "3"

    def warehouse_counts() -> tuple[int, int]:
        wh = profile.warehouse
        with psycopg2.connect(wh.dsn()) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT count(*) FILTER (WHERE user_sk = {dims.UNKNOWN_USER_SK}), "
                f"count(*) FROM {wh.schema_name}.fact_transactions"
            )
            out = cur.fetchone()
        conn.close()
        return out

    assert warehouse_counts() == (3, 12)

    # User 4 arrives with the next snapshot: the next GOLD build re-keys their transactions.
    land(profile, store, "users", "users_2.csv", users([1, 2, 3, 4], "2026-10-02T00:00:00Z"))
    silver_run(s3_spark, profile, "users", "b2")
    checks, loaded = gold_and_warehouse(s3_spark, profile)
    assert checks["late_arriving:fact_transactions.user_sk"]["observed"] == 0
    assert checks["fk:fact_transactions.user_sk"]["passed"]
    assert loaded.tables["fact_transactions"]["figures"]["unknown:user_sk"] == "0"
    assert warehouse_counts() == (0, 12)

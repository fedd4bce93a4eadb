"""SILVER transforms, one table of cases per fault class of the input contract (README)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakehouse.config.registry import load_registry
from spark_jobs.silver import transforms as T

SPECS = {s["dataset"]: s for s in json.loads(load_registry().silver_specs_json())}
EVENTS, TXNS, USERS = SPECS["events"], SPECS["transactions"], SPECS["users"]


def _raw(spark, spec: dict, rows: list[dict]):
    cols = list(spec["columns"])
    data = [tuple(r.get(c) for c in cols) + (r.get("source_file", "f1"),) for r in rows]
    schema = ", ".join(f"`{c}` string" for c in cols) + ", source_file string"
    return T.conform(spark.createDataFrame(data, schema), spec)


def _clean_one(spark, spec: dict, **values):
    return T.clean(_raw(spark, spec, [values]), spec).collect()[0]


GOOD_EVENT = {
    "event_id": "e1",
    "user_id": "7",
    "event_type": "login",
    "event_ts": "2026-11-01T10:00:00Z",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10)),
        ("2026-11-01T12:00:00+02:00", datetime(2026, 11, 1, 10)),
        ("2026-11-01T05:00:00-05:00", datetime(2026, 11, 1, 10)),
        ("2026-11-01 10:00:00", datetime(2026, 11, 1, 10)),
        ("1793527200", datetime(2026, 11, 1, 10)),
        ("1793527200000", datetime(2026, 11, 1, 10)),
        ("01/11/2026 10:00", datetime(2026, 11, 1, 10)),  # day-first, always
        ("yesterday", None),
        ("2026-13-45 25:61:00", None),
        ("31/02/2026 10:00:99", None),
    ],
)
def test_timestamp_formats(spark, text, expected):
    row = _clean_one(spark, EVENTS, **{**GOOD_EVENT, "event_ts": text})
    assert row.event_ts == expected
    assert row.quarantine_reason == (None if expected else "invalid_timestamp")


@pytest.mark.parametrize("spelling", ["", "null", "NULL", "None", "N/A", "-", "   ", None])
def test_null_spellings(spark, spelling):
    row = _clean_one(spark, EVENTS, **{**GOOD_EVENT, "product_id": spelling})
    assert row.product_id is None and row.quarantine_reason is None
    missing = _clean_one(spark, EVENTS, **{**GOOD_EVENT, "event_id": spelling})
    assert missing.quarantine_reason == "missing_required_key"


@pytest.mark.parametrize(
    ("amount", "value", "reason"),
    [
        ("1234.50", Decimal("1234.50"), None),
        ("$1,234.50", Decimal("1234.50"), None),
        ("€12.00", Decimal("12.00"), None),
        (" 99.90 ", Decimal("99.90"), None),
        ("-12.50", Decimal("-12.50"), "negative_amount"),
        ("twelve", None, "invalid_number"),
    ],
)
def test_money(spark, amount, value, reason):
    row = _clean_one(
        spark,
        TXNS,
        transaction_id="t1",
        user_id="1",
        amount=amount,
        currency="usd",
        status=" Completed ",
        transaction_ts="1793527200",
    )
    assert (row.amount, row.quarantine_reason) == (value, reason)
    if reason is None:
        assert (row.currency, row.status) == ("USD", "completed")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("event_type", "teleport", "unknown_enum"),
        ("event_type", " PAGE_VIEW ", None),
        ("device", "Android", None),
        ("user_id", "x9", "invalid_number"),
        ("country", "de", None),
    ],
)
def test_enums_numbers_and_codes(spark, field, value, reason):
    row = _clean_one(spark, EVENTS, **{**GOOD_EVENT, field: value})
    assert row.quarantine_reason == reason
    if field == "country":
        assert row.country == "DE"


@pytest.mark.parametrize(
    ("currency", "reason"),
    [
        ("EUR", None),
        ("eur", None),
        ("ABC", "invalid_currency"),
        ("EURO", "invalid_currency"),
    ],
)
def test_currency(spark, currency, reason):
    row = _clean_one(
        spark,
        TXNS,
        transaction_id="t1",
        user_id="1",
        amount="1.00",
        currency=currency,
        status="pending",
        transaction_ts="1793527200",
    )
    assert row.quarantine_reason == reason


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("a@example.com", None),
        ("user1@", "malformed_email"),
        ("no-at-sign.example.com", "malformed_email"),
        ("two words@example.com", "malformed_email"),
    ],
)
def test_email(spark, email, reason):
    row = _clean_one(spark, USERS, user_id="1", email=email, updated_at="1793527200")
    assert row.quarantine_reason == reason


def test_conform_maps_name_variants_keeps_extras_and_fills_missing(spark):
    df = spark.createDataFrame(
        [("e1", "7", "login", "1793527200", "edge-7")],
        "`Event Id` string, userId string, EVENT_TYPE string, EventTs string, INGEST_HOST string",
    )
    out = T.conform(df, EVENTS)
    assert out.columns == [*EVENTS["columns"], "_extra", "source_file"]
    row = out.collect()[0]
    assert (row.event_id, row.user_id, row.event_type, row.event_ts) == (
        "e1",
        "7",
        "login",
        "1793527200",
    )
    assert row.properties is None and row._extra == {"INGEST_HOST": "edge-7"}


def test_quarantined_rows_keep_the_original_strings(spark):
    cleaned = T.clean(_raw(spark, EVENTS, [{**GOOD_EVENT, "event_type": " Teleport "}]), EVENTS)
    (bad,) = T.quarantined(cleaned).collect()
    original = (bad.event_type, bad.event_ts, bad.source_file)
    assert original == (" Teleport ", "2026-11-01T10:00:00Z", "f1")
    assert bad.quarantine_reason == "unknown_enum"


def test_quarantine_samples_keep_a_few_rows_per_reason_as_they_arrived(spark):
    from spark_jobs.silver.quarantine import quarantine_samples

    rows = [
        {**GOOD_EVENT, "event_id": f"e{i}", "event_type": "Teleport", "source_file": f"f{i}"}
        for i in range(5)
    ]
    rows += [{**GOOD_EVENT, "event_id": "e9", "event_ts": "yesterday"}, GOOD_EVENT]
    samples = quarantine_samples(T.clean(_raw(spark, EVENTS, rows), EVENTS), per_reason=3)
    assert sorted(samples) == ["invalid_timestamp", "unknown_enum"]
    assert [r["source_file"] for r in samples["unknown_enum"]] == ["f0", "f1", "f2"]
    assert samples["invalid_timestamp"][0]["event_ts"] == "yesterday"
    assert "_extra" not in samples["unknown_enum"][0]


def test_silver_quality_checks_count_every_rule_in_one_pass(spark):
    from spark_jobs.silver.quality import quality_checks

    spec = {
        "key": ["id"],
        "max_error_rate": 0.1,
        "columns": {
            "id": {"type": "string"},
            "kind": {"type": "enum", "values": ["a", "b"]},
            "amount": {"type": "decimal", "range": [0, 10]},
        },
    }
    table = spark.createDataFrame(
        [("1", "a", 5), ("2", "c", 20), ("2", None, None), (None, "b", -1)],
        "id string, kind string, amount int",
    )
    found, rows = quality_checks(table, spec, rows_read=5, quarantined=1)
    assert rows == 4
    checks = {c["check"]: c for c in found}
    observed = {name: (c["observed"], c["passed"]) for name, c in checks.items()}
    assert observed == {
        "error_rate": (0.2, False),
        "unique_key": (2, False),
        "not_null_key": (1, False),
        "accepted_values:kind": (1, False),
        "range:amount": (2, False),
    }
    clean = table.where("id = '1'")
    found, rows = quality_checks(clean, spec, rows_read=1, quarantined=0)
    assert rows == 1 and all(c["passed"] for c in found)


def test_winners_latest_wins_and_duplicates_are_counted(spark):
    rows = [
        {**GOOD_EVENT, "event_id": "e1"},
        {**GOOD_EVENT, "event_id": "e1"},  # exact duplicate
        {**GOOD_EVENT, "event_id": "e2", "event_type": "login"},
        {
            **GOOD_EVENT,
            "event_id": "e2",
            "event_type": "logout",
            "event_ts": "2026-11-01T11:00:00Z",
        },  # later version
    ]
    good = T.valid(T.clean(_raw(spark, EVENTS, rows), EVENTS), EVENTS)
    assert T.duplicate_counts(good, EVENTS) == (1, 1)
    out = T.winners(good, EVENTS).select("event_id", "event_type").orderBy("event_id")
    expected = spark.createDataFrame(
        [("e1", "login"), ("e2", "logout")], "event_id string, event_type string"
    )
    assert_df_equality(out, expected, ignore_nullable=True)


def test_scd2_versions_open_only_on_change(spark):
    spec = USERS
    base = {"user_id": "1", "email": "a@example.com", "country": "DE", "status": "active"}
    rows = [
        {**base, "updated_at": "2026-11-01T00:00:00Z"},
        {**base, "updated_at": "2026-11-02T00:00:00Z"},  # re-sent, unchanged: no version
        {**base, "country": "FR", "updated_at": "2026-11-03T00:00:00Z"},  # a change
    ]
    good = T.valid(T.clean(_raw(spark, spec, rows), spec), spec)
    stored = (
        good.limit(0)
        .withColumn("_scd_hash", T.row_hash(spec, spec["scd2_tracked"]))
        .withColumn("valid_to", F.col("updated_at"))
    )
    new, moved = T.scd2_versions(good, stored, spec)
    assert moved.count() == 0
    new = new.orderBy("valid_from").collect()
    assert [
        (r.country, r.valid_from.day, r.valid_to and r.valid_to.day, r.is_current) for r in new
    ] == [("DE", 1, 3, False), ("FR", 3, None, True)]


def test_an_older_version_arriving_late_joins_the_history_and_keeps_the_current_one(
    spark, tmp_path
):
    """SCD2 MERGE with a version older than the current one (a snapshot that arrived late):
    it is placed in the history between its neighbours, the current version stays current;
    the whole history sent again adds and changes nothing."""
    from spark_jobs.silver.merge import merge_scd2

    spec, path = USERS, str(tmp_path / "users")
    base = {"user_id": "1", "email": "a@example.com", "status": "active"}
    de = {**base, "country": "DE", "updated_at": "2026-11-01T00:00:00Z"}
    fr = {**base, "country": "FR", "updated_at": "2026-11-05T00:00:00Z"}
    pl = {**base, "country": "PL", "updated_at": "2026-11-03T00:00:00Z"}

    def merge(rows: list[dict]) -> int:
        return merge_scd2(spark, T.valid(T.clean(_raw(spark, spec, rows), spec), spec), path, spec)

    def history() -> list[tuple]:
        table = spark.read.format("delta").load(path)
        return sorted(
            (r.country, r.valid_from.day, r.valid_to and r.valid_to.day, r.is_current)
            for r in table.collect()
        )

    assert merge([de, fr]) == 2
    assert merge([pl]) == 1
    expected = [("DE", 1, 3, False), ("FR", 5, None, True), ("PL", 3, 5, False)]
    assert history() == expected
    assert merge([de, pl, fr]) == 0
    assert history() == expected
    assert merge([{**base, "country": "ES", "updated_at": "2026-11-07T00:00:00Z"}]) == 1
    assert history() == [*expected[:1], ("ES", 7, None, True), ("FR", 5, 7, False), expected[2]]


def test_silver_schema_types_money_as_decimal():
    schema = {f.name: f.dataType.simpleString() for f in T.silver_schema(TXNS)}
    assert schema["amount"] == "decimal(18,2)" and schema["transaction_ts"] == "timestamp"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_fields_are_read_with_rfc_4180_quoting(spark, tmp_path, delimiter):
    """A quote inside a quoted field is doubled (as Python's csv module and spreadsheets write
    it); a delimiter inside quotes belongs to the field."""
    import csv

    from spark_jobs.silver.extract import read_file

    values = ['{"referrer": "ads", "tags": ["a", "b"]}', f"x{delimiter}y", 'a "b"', "plain"]
    path = tmp_path / "events.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(["event_id", "properties"])
        writer.writerows([f"e{i}", v] for i, v in enumerate(values))
    rows = read_file(spark, str(path), "csv", delimiter).orderBy("event_id").collect()
    assert [r.properties for r in rows] == values

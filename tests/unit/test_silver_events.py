"""SILVER events transforms, as tables of input rows and expected rows."""

from collections import namedtuple
from datetime import date, datetime

from chispa import assert_df_equality
from pyspark.sql.types import StringType, StructField, StructType

from spark_jobs.silver import events

Raw = namedtuple("Raw", events.RAW_COLUMNS + ["source_file"])
Silver = namedtuple("Silver", [f.name for f in events.SILVER_EVENTS_SCHEMA.fields])


def _raw(spark, rows):
    # StructType.add mutates in place: build a fresh schema rather than touching the module's.
    schema = StructType(
        [*events.RAW_EVENTS_SCHEMA.fields, StructField("source_file", StringType())]
    )
    return spark.createDataFrame(rows, schema)


def test_clean_types_normalises_and_flags_bad_rows(spark):
    raw = _raw(
        spark,
        [
            Raw("e1", "7", " Page_View ", "2026-11-01T10:00:00Z", "s1", "WEB", "de", "", "f1"),
            Raw("e2", "8", "purchase", "2026-11-01 23:59:59", "s2", "ios", "US", "p-1", "f1"),
            Raw("", "9", "login", "2026-11-02T00:00:00Z", "s3", "web", "FR", None, "f2"),
            Raw("e4", "x9", "login", "2026-11-02T00:00:00Z", "s3", "web", "FR", None, "f2"),
            Raw("e5", "9", "teleport", "yesterday", "s3", "web", "FR", "null", "f2"),
        ],
    )
    cleaned = events.clean_events(raw)
    valid = events.valid_rows(cleaned)
    expected = spark.createDataFrame(
        [
            Silver(
                "e1",
                7,
                "page_view",
                datetime(2026, 11, 1, 10),
                "s1",
                "web",
                "DE",
                None,
                "f1",
                date(2026, 11, 1),
            ),
            Silver(
                "e2",
                8,
                "purchase",
                datetime(2026, 11, 1, 23, 59, 59),
                "s2",
                "ios",
                "US",
                "p-1",
                "f1",
                date(2026, 11, 1),
            ),
        ],
        events.SILVER_EVENTS_SCHEMA,
    )
    assert_df_equality(valid, expected, ignore_nullable=True, ignore_row_order=True)

    reasons = {r.event_id: r.quarantine_reason for r in events.quarantined_rows(cleaned).collect()}
    assert reasons == {
        None: "missing_event_id",
        "e4": "invalid_user_id",
        "e5": "invalid_event_ts,unknown_event_type",
    }


def test_quarantined_rows_keep_the_original_values(spark):
    raw = _raw(spark, [Raw("e5", " 9 ", "Teleport", "yesterday", "s3", "web", "fr", None, "f2")])
    bad = events.quarantined_rows(events.clean_events(raw)).collect()
    assert [(b.event_type, b.country, b.event_ts, b.source_file) for b in bad] == [
        ("Teleport", "fr", "yesterday", "f2")
    ]


def test_deduplicate_keeps_latest_per_event_id(spark):
    raw = _raw(
        spark,
        [
            Raw("e1", "1", "login", "2026-11-01T10:00:00Z", "s1", "web", "DE", None, "a"),
            Raw(
                "e1", "1", "login", "2026-11-01T10:00:00Z", "s1", "web", "DE", None, "a"
            ),  # exact dup
            Raw("e2", "2", "login", "2026-11-01T10:00:00Z", "s1", "web", "DE", None, "a"),
            Raw("e2", "2", "logout", "2026-11-01T11:00:00Z", "s1", "web", "DE", None, "b"),  # later
        ],
    )
    out = events.deduplicate_events(events.valid_rows(events.clean_events(raw)))
    assert sorted((r.event_id, r.event_type) for r in out.collect()) == [
        ("e1", "login"),
        ("e2", "logout"),
    ]
    assert [(f.name, f.dataType) for f in out.schema] == [
        (f.name, f.dataType) for f in events.SILVER_EVENTS_SCHEMA
    ]


def test_conform_maps_columns_by_name_and_fills_missing(spark):
    df = spark.createDataFrame(
        [("e1", "login", "extra")], "EVENT_ID string, event_type string, junk string"
    )
    out = events.conform(df)
    assert out.columns == events.RAW_COLUMNS + ["source_file"]
    row = out.collect()[0]
    assert (row.event_id, row.event_type, row.user_id) == ("e1", "login", None)

from collections import namedtuple
from datetime import date

from chispa import assert_df_equality

from spark_jobs.gold import marts

Event = namedtuple("Event", "event_date event_type user_id")
Daily = namedtuple("Daily", "event_date event_type event_count unique_users")


def test_daily_event_counts(spark):
    silver = spark.createDataFrame(
        [
            Event(date(2026, 11, 1), "login", 1),
            Event(date(2026, 11, 1), "login", 1),
            Event(date(2026, 11, 1), "login", 2),
            Event(date(2026, 11, 1), "purchase", 2),
            Event(date(2026, 11, 2), "login", 3),
        ],
        "event_date date, event_type string, user_id long",
    )
    expected = spark.createDataFrame(
        [
            Daily(date(2026, 11, 1), "login", 3, 2),
            Daily(date(2026, 11, 1), "purchase", 1, 1),
            Daily(date(2026, 11, 2), "login", 1, 1),
        ],
        marts.DAILY_EVENT_COUNTS,
    )
    actual = marts.build_daily_event_counts(silver)
    assert_df_equality(actual, expected, ignore_nullable=True)
    assert actual.columns == [f.name for f in marts.DAILY_EVENT_COUNTS.fields]

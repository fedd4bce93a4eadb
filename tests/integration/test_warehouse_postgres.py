"""DDL + COPY + atomic swap on the real PostgreSQL."""

from __future__ import annotations

from datetime import date

import psycopg2
import pyarrow as pa
import pytest

from lakehouse import warehouse
from lakehouse.config import Profile


@pytest.fixture
def wh_profile(pg_profile: Profile, run_id: str):
    schema = f"it_{run_id}"
    profile = pg_profile.model_copy(
        update={"warehouse": pg_profile.warehouse.model_copy(update={"schema_name": schema})}
    )
    yield profile
    conn = warehouse.connect(profile)
    with conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


def _daily(rows: list[tuple]) -> pa.Table:
    names = ["event_date", "event_type", "event_count", "unique_users"]
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


def _rows(profile: Profile) -> list[tuple]:
    conn = warehouse.connect(profile)
    with conn, conn.cursor() as cur:
        cur.execute(
            f'SELECT * FROM "{profile.warehouse.schema_name}".daily_event_counts ORDER BY 1, 2'
        )
        rows = cur.fetchall()
    conn.close()
    return rows


def test_copy_loads_and_swaps(wh_profile):
    first = _daily([(date(2026, 11, 1), "login", 3, 2), (date(2026, 11, 1), "purchase", 1, 1)])
    result = warehouse.load_table(wh_profile, "daily_event_counts", first, "event_count")
    assert (result.rows, result.checksum) == (2, 4)
    assert _rows(wh_profile) == [
        (date(2026, 11, 1), "login", 3, 2),
        (date(2026, 11, 1), "purchase", 1, 1),
    ]

    second = _daily([(date(2026, 11, 2), "logout", 5, 4)])
    warehouse.load_table(wh_profile, "daily_event_counts", second, "event_count")
    assert _rows(wh_profile) == [(date(2026, 11, 2), "logout", 5, 4)]
    assert (
        warehouse.validate_table(wh_profile, "daily_event_counts", second, "event_count").rows == 1
    )


def test_failed_load_leaves_previous_table_intact(wh_profile):
    good = _daily([(date(2026, 11, 1), "login", 3, 2)])
    warehouse.load_table(wh_profile, "daily_event_counts", good, "event_count")
    duplicate_key = _daily([(date(2026, 11, 2), "login", 1, 1), (date(2026, 11, 2), "login", 2, 2)])
    with pytest.raises(psycopg2.errors.UniqueViolation):
        warehouse.load_table(wh_profile, "daily_event_counts", duplicate_key, "event_count")
    assert _rows(wh_profile) == [(date(2026, 11, 1), "login", 3, 2)]


def test_validation_detects_a_mismatch(wh_profile):
    warehouse.load_table(
        wh_profile,
        "daily_event_counts",
        _daily([(date(2026, 11, 1), "login", 3, 2)]),
        "event_count",
    )
    other = _daily([(date(2026, 11, 1), "login", 4, 2)])
    with pytest.raises(ValueError, match="checksum 3 in the warehouse, gold has 1 / 4"):
        warehouse.validate_table(wh_profile, "daily_event_counts", other, "event_count")

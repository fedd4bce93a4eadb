"""The reference sample's GOLD loaded into the real PostgreSQL: every table equal to its gold
export row for row, validation passing, and a second load of the same GOLD changing nothing."""

from __future__ import annotations

import psycopg2
import pytest

from lakehouse import warehouse
from lakehouse.config import Profile
from lakehouse.warehouse import sql as warehouse_sql
from tests.reliability.faults import rows_sorted


@pytest.fixture(scope="module")
def loaded(gold_export: Profile, pg_profile: Profile):
    schema = "it_reference"
    profile = gold_export.model_copy(
        update={"warehouse": pg_profile.warehouse.model_copy(update={"schema_name": schema})}
    )
    owner = psycopg2.connect(profile.warehouse.dsn())
    owner.autocommit = True
    with owner.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    warehouse.bootstrap(profile)
    report = warehouse.load(profile)
    yield profile, report
    with owner.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    owner.close()


def test_every_gold_table_is_loaded(loaded):
    _, report = loaded
    assert sorted(report.tables) == sorted(warehouse_sql.table_defs())
    assert report.skipped == []
    assert {n: t["rows"] for n, t in report.tables.items() if t["rows"] == 0} == {}


@pytest.mark.parametrize("table", sorted(warehouse_sql.table_defs()))
def test_table_equals_gold_row_for_row(loaded, table):
    profile, _ = loaded
    definition = warehouse_sql.table_defs()[table]
    gold = warehouse.read_export(profile, table)
    backend = warehouse.loader(profile)
    cols = ", ".join(warehouse_sql.quote(c) for c in definition.column_names)
    rows = backend.query(f'SELECT {cols} FROM "{backend.schema}"."{table}"')
    expected = [tuple(r.values()) for r in gold.to_pylist()]
    assert len(rows) == len(expected)
    assert rows_sorted(rows) == rows_sorted(expected)


def test_validation_passes_and_a_reload_changes_nothing(loaded):
    profile, first = loaded
    result = warehouse.validate(profile)
    assert set(result["tables"]) == set(first.tables)
    again = warehouse.load(profile)
    assert {n: t["figures"] for n, t in again.tables.items()} == {
        n: t["figures"] for n, t in first.tables.items()
    }

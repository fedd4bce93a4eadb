"""The reference sample's GOLD loaded into the real PostgreSQL: every table equal to its gold
export row for row, validation passing, and a second load of the same GOLD changing nothing."""

from __future__ import annotations

import psycopg2
import pytest

from lakehouse import warehouse
from lakehouse.config import Profile
from lakehouse.warehouse import sql as warehouse_sql
from tests.reliability.faults import arrow_figures, rows_sorted


@pytest.fixture(scope="module")
def loaded(gold_export: Profile, pg_profile: Profile):
    schema = "it_reference"
    profile = gold_export.model_copy(
        update={"warehouse": pg_profile.warehouse.model_copy(update={"schema_name": schema})}
    )
    owner = psycopg2.connect(profile.warehouse.dsn())
    owner.autocommit = True
    with owner.cursor() as cur:
        for name in (schema, warehouse_sql.restricted_schema(schema)):
            cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    warehouse.bootstrap(profile)
    report = warehouse.load(profile)
    yield profile, report
    with owner.cursor() as cur:
        for name in (schema, warehouse_sql.restricted_schema(schema)):
            cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
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
    schema = warehouse_sql.schema_of(definition, backend.schema)
    rows = backend.query(f'SELECT {cols} FROM "{schema}"."{table}"')
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


@pytest.mark.parametrize("table", sorted(warehouse_sql.table_defs()))
def test_the_figures_spark_wrote_next_to_the_export_equal_the_exports_own(gold_export, table):
    export = warehouse.find_export(gold_export, warehouse_sql.table_defs()[table])
    assert export is not None
    assert warehouse.gold_figures(export) == arrow_figures(export.table, export.dataset.to_table())


def test_an_export_without_its_figures_is_refused_by_name(gold_export, tmp_path):
    definition = warehouse_sql.table_defs()["dim_status"]
    export = warehouse.find_export(gold_export, definition)
    moved = export.folder + ".figures-moved"
    export.fs.move(f"{export.folder}/_figures.json", moved)
    try:
        with pytest.raises(warehouse.WarehouseError, match=r"dim_status/_figures\.json.*rerun"):
            warehouse.gold_figures(export)
    finally:
        export.fs.move(moved, f"{export.folder}/_figures.json")
